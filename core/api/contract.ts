// The one API contract between the UI and the VMM. The app service (core/service) implements
// it; Electron main exposes it over IPC and the preload hands it to the renderer as
// `window.vmm`; browser mode (`npm run web`) carries the very same requests and events over a
// WebSocket. Pure types and constants (type-only imports), so the sandboxed preload and the
// renderer can include it without pulling in Node or zod.
import type { ProfileInput } from '../profiles/schema.js';
import type { MachineStats } from '../stats/machine-stats.js';
import type { StatsMessage } from '../stats/stream.js';

/** Request channels (invoke/handle in Electron; {t:'req'} frames over the WebSocket). */
export const Channels = {
  // Profile library
  listProfiles: 'vmm:list-profiles',
  getProfile: 'vmm:get-profile',
  saveProfile: 'vmm:save-profile',
  duplicateProfile: 'vmm:duplicate-profile',
  deleteProfile: 'vmm:delete-profile',
  getDemoProfile: 'vmm:get-demo-profile',
  // Guest images dropped on the window
  importImage: 'vmm:import-image',
  createVmFromImage: 'vmm:create-vm-from-image',
  attachImage: 'vmm:attach-image',
  // VM lifecycle and console
  listVms: 'vmm:list-vms',
  startVm: 'vmm:start-vm',
  pauseVm: 'vmm:pause-vm',
  resumeVm: 'vmm:resume-vm',
  stopVm: 'vmm:stop-vm',
  sendConsole: 'vmm:send-console',
  consoleBacklog: 'vmm:console-backlog',
  // Live interrupt views of a running VM
  statsSnapshot: 'vmm:stats-snapshot',
  msixTable: 'vmm:msix-table',
  setVectorMask: 'vmm:set-vector-mask',
  fireVector: 'vmm:fire-vector',
  routingTable: 'vmm:routing-table',
  xenPorts: 'vmm:xen-ports',
  xenPirqs: 'vmm:xen-pirqs',
  xenSend: 'vmm:xen-send',
  xenBindVcpu: 'vmm:xen-bind-vcpu',
  xenSetPortMask: 'vmm:xen-set-port-mask',
  irqState: 'vmm:irq-state',
  // Settings
  getSettings: 'vmm:get-settings',
  setSettings: 'vmm:set-settings',
} as const;

/** Event channels (main -> renderer; {t:'ev'} frames over the WebSocket). */
export const Events = {
  console: 'vmm:event:console',
  vmState: 'vmm:event:vm-state',
  stats: 'vmm:event:stats',
  profilesChanged: 'vmm:event:profiles-changed',
  /** Desktop app only: an application-menu item the page acts on. */
  menu: 'vmm:event:menu',
} as const;

export type RequestChannel = (typeof Channels)[keyof typeof Channels];
export type EventChannel = (typeof Events)[keyof typeof Events];

export type VmId = string;

// ---------------------------------------------------------------------------------------
// Profiles

/** What the library shows about a profile. */
export interface ProfileSummary {
  name: string;
  description?: string;
  platform: 'kvm' | 'xen-hvm';
  cpus: number;
  memoryMiB: number;
  irqchip: 'kernel' | 'split';
  bootKind: 'auto' | 'pvh' | 'multiboot' | 'bzimage';
  kernel: string;
  cmdline: string;
  /** PCI devices by type, e.g. ["irq-lab (2048 MSI-X)", "virtio-blk"]. */
  devices: string[];
  /** Built-in profiles (the Interrupt Lab demos) are read-only: duplicate them to edit. */
  source: 'builtin' | 'user';
  file?: string;
}

export interface ProfileList {
  profiles: ProfileSummary[];
  /** Profile files that could not be used, with the reason to show next to them. */
  broken: { file: string; error: string }[];
}

/** A whole profile for the editor: the JSON as saved (defaults may be absent). */
export interface ProfileDocument {
  profile: ProfileInput;
  source: 'builtin' | 'user';
  file?: string;
}

/** A field-level problem, with the path in the profile ("devices[1].msix.vectors"). */
export interface FieldIssue {
  path: string;
  message: string;
}

// ---------------------------------------------------------------------------------------
// Images

/**
 * A dropped file. Electron passes its path (webUtils.getPathForFile in the preload); the
 * browser cannot, so it sends the bytes and the service stores a copy under the profiles
 * folder's images/ directory.
 */
export type ImageSource = { kind: 'path'; path: string } | { kind: 'bytes'; name: string; data: Uint8Array };

/** Upper bound for an image sent as bytes (browser mode). */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

export interface ImportedImage {
  /** Absolute path of the image on the VMM's host. */
  path: string;
  name: string;
  size: number;
  /** core/boot/detect's format name ("elf", "bzimage", "qcow2", "iso9660", "mbr-disk", ...). */
  format: string;
  /** "ELF64 x86-64 kernel with a PVH entry note". */
  description: string;
  /** What the image can become: a kernel to boot, a disk to attach, or nothing usable. */
  use: 'kernel' | 'disk' | 'none';
  protocols: ('pvh' | 'multiboot' | 'bzimage')[];
  /** Why it cannot be used, and what to do instead (set when use is 'none' or a caveat applies). */
  hint?: string;
}

// ---------------------------------------------------------------------------------------
// VMs

/**
 * Lifecycle states the service reports itself; while running, the VM host also reports the
 * machine's own states ('running', 'paused', ...).
 */
export type VmLifecycle = 'starting' | 'running' | 'paused' | 'stopping' | 'exited' | 'failed';

export interface VmInfo {
  id: VmId;
  profile: string;
  platform: 'kvm' | 'xen-hvm';
  state: VmLifecycle | (string & {});
  startedAt: number;
  exit?: { status: number; reason: string };
  error?: string;
}

export interface VmStateEvent {
  id: VmId;
  state: VmLifecycle | (string & {});
  /** Set with 'exited': how the guest ended. */
  exit?: { status: number; reason: string };
  /** Set with 'failed': what went wrong and what to do. */
  error?: string;
}

export interface ConsoleEvent {
  id: VmId;
  /** Raw bytes from the guest's serial port. */
  data: Uint8Array;
}

/** The core's statistics stream (snapshot first, then counter deltas at 10 Hz). */
export interface StatsEvent {
  id: VmId;
  msg: StatsMessage;
}

export interface StatsSnapshot {
  stats: MachineStats;
  /** Flat provenance-keyed counters ("pci.irq-lab0.v5.total") as of `stats.t`. */
  counters: Record<string, number>;
  /** Rates (per second) of the last delta, same keys. */
  rates: Record<string, number>;
}

// ---------------------------------------------------------------------------------------
// Live interrupt views

/** One MSI-X table entry, decoded (PCI 3.0 §6.8.2; Intel SDM 10.11 for address/data). */
export interface MsixEntryView {
  index: number;
  addressLo: number;
  addressHi: number;
  data: number;
  masked: boolean;
  pending: boolean;
  /** Decoded message: destination APIC ID (with extended bits), vector, modes. */
  dest: number;
  vector: number;
  destMode: 'physical' | 'logical';
  deliveryMode: string;
  trigger: 'edge' | 'level';
  /** Set when the message is in Xen's PIRQ encoding (vector 0). */
  pirq?: number;
  gsi: number | null;
  path: string;
  total: number;
  coalesced: number;
  firedWhileMasked: number;
  deliveredAfterUnmask: number;
  /** Table writes the VMM made on the user's behalf (host-side mask/unmask). */
  hostWrites?: number;
}

export interface MsixTableView {
  device: string;
  bdf: string;
  /** MSI-X capability: enable and function mask bits of Message Control. */
  enabled: boolean;
  functionMasked: boolean;
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
  /** Entries [first, first + entries.length) of the table. */
  first: number;
  entries: MsixEntryView[];
  /** Whether fireVector works on this device (irq-lab). */
  canFire: boolean;
}

export interface PciDeviceRef {
  name: string;
  bdf: string;
  type: string;
  msixVectors: number;
}

export interface RouteView {
  gsi: number;
  kind: 'irqchip' | 'msi';
  /** irqchip routes: "ioapic pin 4", "pic-master 3". */
  target?: string;
  /** MSI routes: the message and its decoding. */
  addressLo?: number;
  addressHi?: number;
  data?: number;
  dest?: number;
  vector?: number;
  /** Who owns the route: "pci 00:03.0 irq-lab0 v5". */
  owner?: string;
  updates?: number;
}

export interface RoutingTableView {
  entries: RouteView[];
  stats: Record<string, number>;
}

export interface XenPortView {
  port: number;
  type: 'unbound' | 'interdomain' | 'virq' | 'ipi' | 'pirq' | (string & {});
  vcpu: number;
  priority: number;
  pending: boolean;
  masked: boolean;
  /** virq number, pirq number, or remote port, by type. */
  detail: string;
  sends: number;
  deliveries: number;
  coalesced: number;
  maskedPending: number;
  upcalls: number;
}

export interface XenPortsView {
  abi: '2l' | 'fifo' | 'none';
  vcpus: number;
  ports: XenPortView[];
}

export interface XenPirqView {
  pirq: number;
  source: string;
  port: number | null;
  count: number;
  dropped: number;
  masked?: boolean;
}

/** An application-menu command for the page (Electron's menu; browser mode has none). */
export type MenuEvent =
  | { action: 'new-vm' }
  | { action: 'settings' }
  /** File > Import Image…: the chosen file, to handle like a dropped one (importImage by path). */
  | { action: 'import-image'; path: string };

export interface Settings {
  /** Folder with the user's profile files (and images/ for dropped images). */
  profilesDir: string;
}

// ---------------------------------------------------------------------------------------
// Requests

/** Request arguments and results per channel; the wire carries `args` as an array. */
export interface Requests {
  [Channels.listProfiles]: { args: []; result: ProfileList };
  [Channels.getProfile]: { args: [name: string]; result: ProfileDocument };
  /** Validate with the core schema and save atomically; `previousName` renames. */
  [Channels.saveProfile]: { args: [profile: unknown, previousName?: string]; result: ProfileSummary };
  [Channels.duplicateProfile]: { args: [name: string, newName: string]; result: ProfileSummary };
  [Channels.deleteProfile]: { args: [name: string]; result: void };
  [Channels.getDemoProfile]: { args: []; result: ProfileSummary };
  [Channels.importImage]: { args: [source: ImageSource]; result: ImportedImage };
  [Channels.createVmFromImage]: { args: [imagePath: string, name?: string]; result: ProfileSummary };
  [Channels.attachImage]: { args: [profileName: string, imagePath: string]; result: ProfileSummary };
  [Channels.listVms]: { args: []; result: VmInfo[] };
  [Channels.startVm]: { args: [profileName: string]; result: { id: VmId } };
  [Channels.pauseVm]: { args: [id: VmId]; result: void };
  [Channels.resumeVm]: { args: [id: VmId]; result: void };
  [Channels.stopVm]: { args: [id: VmId]; result: void };
  [Channels.sendConsole]: { args: [id: VmId, data: string]; result: void };
  [Channels.consoleBacklog]: { args: [id: VmId]; result: Uint8Array };
  [Channels.statsSnapshot]: { args: [id: VmId]; result: StatsSnapshot };
  [Channels.msixTable]: { args: [id: VmId, device: string, first?: number, count?: number]; result: MsixTableView };
  [Channels.setVectorMask]: { args: [id: VmId, device: string, vector: number, masked: boolean]; result: void };
  [Channels.fireVector]: { args: [id: VmId, device: string, vector: number, count?: number]; result: void };
  [Channels.routingTable]: { args: [id: VmId]; result: RoutingTableView };
  [Channels.xenPorts]: { args: [id: VmId]; result: XenPortsView };
  [Channels.xenPirqs]: { args: [id: VmId]; result: XenPirqView[] };
  [Channels.xenSend]: { args: [id: VmId, port: number]; result: void };
  [Channels.xenBindVcpu]: { args: [id: VmId, port: number, vcpu: number]; result: void };
  [Channels.xenSetPortMask]: { args: [id: VmId, port: number, masked: boolean]; result: void };
  [Channels.irqState]: { args: [id: VmId]; result: unknown };
  [Channels.getSettings]: { args: []; result: Settings };
  [Channels.setSettings]: { args: [settings: Settings]; result: Settings };
}

export interface EventPayloads {
  [Events.console]: ConsoleEvent;
  [Events.vmState]: VmStateEvent;
  [Events.stats]: StatsEvent;
  [Events.profilesChanged]: Record<string, never>;
  [Events.menu]: MenuEvent;
}

/** Every reply is an envelope so errors cross IPC with their message intact. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: WireError };

export interface WireError {
  name: string;
  message: string;
  /** Profile validation problems, for the editor to show beside each field. */
  issues?: FieldIssue[];
}

type Method<C extends RequestChannel> = (...args: Requests[C]['args']) => Promise<Requests[C]['result']>;

/** `window.vmm` in the renderer. `on*` return a function that unsubscribes. */
export interface VmmApi {
  listProfiles: Method<typeof Channels.listProfiles>;
  getProfile: Method<typeof Channels.getProfile>;
  saveProfile: Method<typeof Channels.saveProfile>;
  duplicateProfile: Method<typeof Channels.duplicateProfile>;
  deleteProfile: Method<typeof Channels.deleteProfile>;
  getDemoProfile: Method<typeof Channels.getDemoProfile>;
  importImage: Method<typeof Channels.importImage>;
  createVmFromImage: Method<typeof Channels.createVmFromImage>;
  attachImage: Method<typeof Channels.attachImage>;
  listVms: Method<typeof Channels.listVms>;
  startVm: Method<typeof Channels.startVm>;
  pauseVm: Method<typeof Channels.pauseVm>;
  resumeVm: Method<typeof Channels.resumeVm>;
  stopVm: Method<typeof Channels.stopVm>;
  sendConsole: Method<typeof Channels.sendConsole>;
  consoleBacklog: Method<typeof Channels.consoleBacklog>;
  statsSnapshot: Method<typeof Channels.statsSnapshot>;
  msixTable: Method<typeof Channels.msixTable>;
  setVectorMask: Method<typeof Channels.setVectorMask>;
  fireVector: Method<typeof Channels.fireVector>;
  routingTable: Method<typeof Channels.routingTable>;
  xenPorts: Method<typeof Channels.xenPorts>;
  xenPirqs: Method<typeof Channels.xenPirqs>;
  xenSend: Method<typeof Channels.xenSend>;
  xenBindVcpu: Method<typeof Channels.xenBindVcpu>;
  xenSetPortMask: Method<typeof Channels.xenSetPortMask>;
  irqState: Method<typeof Channels.irqState>;
  getSettings: Method<typeof Channels.getSettings>;
  setSettings: Method<typeof Channels.setSettings>;
  onConsole(cb: (event: ConsoleEvent) => void): () => void;
  onVmState(cb: (event: VmStateEvent) => void): () => void;
  onStats(cb: (event: StatsEvent) => void): () => void;
  onProfilesChanged(cb: () => void): () => void;
  /** Application-menu commands (desktop app; never fires in browser mode). */
  onMenu?(cb: (event: MenuEvent) => void): () => void;
  /** 'electron' in the desktop app, 'web' in browser mode. */
  readonly mode: 'electron' | 'web';
  /**
   * Electron only: the host path of a dropped File (webUtils.getPathForFile), for
   * importImage({kind:'path'}); absent in browser mode, which sends the bytes instead.
   */
  pathForFile?: (file: unknown) => string | undefined;
}

/** Method name of each request channel, so transports build VmmApi from one table. */
export const MethodOf = {
  [Channels.listProfiles]: 'listProfiles',
  [Channels.getProfile]: 'getProfile',
  [Channels.saveProfile]: 'saveProfile',
  [Channels.duplicateProfile]: 'duplicateProfile',
  [Channels.deleteProfile]: 'deleteProfile',
  [Channels.getDemoProfile]: 'getDemoProfile',
  [Channels.importImage]: 'importImage',
  [Channels.createVmFromImage]: 'createVmFromImage',
  [Channels.attachImage]: 'attachImage',
  [Channels.listVms]: 'listVms',
  [Channels.startVm]: 'startVm',
  [Channels.pauseVm]: 'pauseVm',
  [Channels.resumeVm]: 'resumeVm',
  [Channels.stopVm]: 'stopVm',
  [Channels.sendConsole]: 'sendConsole',
  [Channels.consoleBacklog]: 'consoleBacklog',
  [Channels.statsSnapshot]: 'statsSnapshot',
  [Channels.msixTable]: 'msixTable',
  [Channels.setVectorMask]: 'setVectorMask',
  [Channels.fireVector]: 'fireVector',
  [Channels.routingTable]: 'routingTable',
  [Channels.xenPorts]: 'xenPorts',
  [Channels.xenPirqs]: 'xenPirqs',
  [Channels.xenSend]: 'xenSend',
  [Channels.xenBindVcpu]: 'xenBindVcpu',
  [Channels.xenSetPortMask]: 'xenSetPortMask',
  [Channels.irqState]: 'irqState',
  [Channels.getSettings]: 'getSettings',
  [Channels.setSettings]: 'setSettings',
} as const satisfies { [C in RequestChannel]: keyof VmmApi };

export const REQUEST_CHANNELS = Object.keys(MethodOf) as RequestChannel[];
