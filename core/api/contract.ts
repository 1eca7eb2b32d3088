// The one API contract between the UI and the VMM: main implements it, the preload exposes
// it as `window.vmm`, the renderer (and later the browser mode) calls it. Pure types and
// constants, no imports, so the sandboxed preload and the renderer can both use it.

/** IPC channel names. Requests use invoke/handle; events flow main -> renderer. */
export const Channels = {
  listProfiles: 'vmm:list-profiles',
  getDemoProfile: 'vmm:get-demo-profile',
  startVm: 'vmm:start-vm',
  stopVm: 'vmm:stop-vm',
  console: 'vmm:event:console',
  vmState: 'vmm:event:vm-state',
} as const;

export type RequestChannel = (typeof Channels)[
  | 'listProfiles'
  | 'getDemoProfile'
  | 'startVm'
  | 'stopVm'];

export type VmId = string;

/** What the UI shows about a profile (no host paths beyond the kernel it boots). */
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
  source: 'builtin' | 'user';
  file?: string;
}

export interface ProfileList {
  profiles: ProfileSummary[];
  /** Profile files that could not be used, with the reason to show next to them. */
  broken: { file: string; error: string }[];
}

/**
 * Lifecycle states main reports itself; while running, the VM host may also report the
 * machine's own states (any other string) as they come from the core.
 */
export type VmLifecycle = 'starting' | 'running' | 'stopping' | 'exited' | 'failed';

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

/** Request arguments and results per channel; the wire carries `args` as an array. */
export interface Requests {
  [Channels.listProfiles]: { args: []; result: ProfileList };
  [Channels.getDemoProfile]: { args: []; result: ProfileSummary };
  [Channels.startVm]: { args: [profileName: string]; result: { id: VmId } };
  [Channels.stopVm]: { args: [id: VmId]; result: void };
}

/** Every reply is an envelope so errors cross IPC with their message intact. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string } };

/** `window.vmm` in the renderer. `on*` return a function that unsubscribes. */
export interface VmmApi {
  listProfiles(): Promise<ProfileList>;
  getDemoProfile(): Promise<ProfileSummary>;
  startVm(profileName: string): Promise<{ id: VmId }>;
  stopVm(id: VmId): Promise<void>;
  onConsole(cb: (event: ConsoleEvent) => void): () => void;
  onVmState(cb: (event: VmStateEvent) => void): () => void;
}
