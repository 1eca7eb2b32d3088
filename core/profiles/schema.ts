// The VM profile file format (JSON, versioned). Profiles are what users save and edit;
// store.ts reads them through parseProfile() and resolveProfile() turns one into a
// MachineConfig. The schema is strict: an unknown key is a typo, never silently ignored.
import { z } from 'zod';
import { DEFAULT_DEVICES, type DeviceConfig, type LegacyDeviceConfig } from '../machine/config.js';
import { ProfileError, type ProfileIssue } from './errors.js';

export const PROFILE_VERSION = 1;

const port = z.number().int().min(0).max(0xffff);
const isaIrq = z.number().int().min(0).max(15);

// Devices are a union discriminated by `type`. Legacy ISA devices come first; PCI devices
// (with their MSI/MSI-X table layout) will be further variants of DeviceSchema, and
// resolveProfile() will route them to their own MachineConfig field.
const legacyDevices = [
  z.strictObject({ type: z.literal('uart16550'), port, irq: isaIrq }),
  z.strictObject({ type: z.literal('debug-exit'), port }),
  z.strictObject({ type: z.literal('irq-line-testdev'), port }),
] as const;
export const LegacyDeviceSchema = z.discriminatedUnion('type', [...legacyDevices]);
const pciSlot = z.number().int().min(1).max(31).optional();
const bar = z.number().int().min(0).max(5);
const qwordOffset = z.number().int().min(0).max(2 ** 31).multipleOf(8); // QWORD-aligned (PCI 3.0 §6.8.2.4)

export const MsixLayoutSchema = z
  .strictObject({
    vectors: z.number().int().min(1).max(2048),
    tableBar: bar.default(1),
    tableOffset: qwordOffset.default(0),
    pbaBar: bar.default(1),
    pbaOffset: qwordOffset.default(0x8000),
  })
  .superRefine((l, ctx) => {
    // PCI 3.0 §6.8.2: table and PBA may share a BAR but must not overlap.
    const tableEnd = l.tableOffset + l.vectors * 16;
    const pbaEnd = l.pbaOffset + Math.ceil(l.vectors / 64) * 8;
    if (l.tableBar === l.pbaBar && l.tableOffset < pbaEnd && l.pbaOffset < tableEnd) {
      ctx.addIssue({ code: 'custom', path: ['pbaOffset'], message: `PBA overlaps the ${l.vectors}-vector table in BAR${l.tableBar}` });
    }
    if (l.tableBar === 0 || l.pbaBar === 0) {
      ctx.addIssue({ code: 'custom', path: [l.tableBar === 0 ? 'tableBar' : 'pbaBar'], message: "BAR0 holds the device's registers" });
    }
  });

const pciDevices = [
  z.strictObject({ type: z.literal('irq-lab'), slot: pciSlot, msix: MsixLayoutSchema.optional(), msiVectors: z.number().int().min(1).max(32).optional() }),
  z
    .strictObject({ type: z.literal('virtio-blk'), slot: pciSlot, image: z.string().min(1).optional(), readonly: z.boolean().optional(), socket: z.string().min(1).optional() })
    .refine((d) => (d.image === undefined) !== (d.socket === undefined), { message: 'give either image (our backend) or socket (an external vhost-user backend)' }),
  z.strictObject({ type: z.literal('virtio-console'), slot: pciSlot }),
  z.strictObject({ type: z.literal('virtio-rng'), slot: pciSlot }),
] as const;
export const PciDeviceSchema = z.discriminatedUnion('type', [...pciDevices]);

export const DeviceSchema = z.discriminatedUnion('type', [...legacyDevices, ...pciDevices]);
export type DeviceProfile = z.output<typeof DeviceSchema>;

// Compile-time guard: every legacy device a profile can hold is a valid LegacyDeviceConfig.
const _legacyFits: (d: z.output<typeof LegacyDeviceSchema>) => LegacyDeviceConfig = (d) => d;
void _legacyFits;
const _deviceFits: (d: z.output<typeof DeviceSchema>) => DeviceConfig = (d) => d;
void _deviceFits;

const NAME_CHARS = /^[\p{L}\p{N}][\p{L}\p{N} ._:()+,#'-]*$/u;

export const ProfileSchema = z.strictObject({
  version: z.literal(PROFILE_VERSION),
  name: z
    .string()
    .min(1)
    .max(64)
    .refine((s) => s === '' || (NAME_CHARS.test(s) && s === s.trimEnd()), {
      message: "must start with a letter or digit and use only letters, digits, spaces and . _ : ( ) + , # ' -",
    }),
  description: z.string().max(1000).optional(),
  platform: z.enum(['kvm', 'xen-hvm']),
  cpus: z.number().int().min(1).max(64),
  memoryMiB: z.number().int().min(16).max(65536).multipleOf(2),
  irqchip: z.enum(['kernel', 'split']).default('kernel'),
  /** Lab knob: cap KVM's GSI routing table to provoke route exhaustion and fallback. */
  gsiRouteLimit: z.number().int().min(24).max(4096).optional(),
  boot: z.strictObject({
    kind: z.enum(['auto', 'pvh', 'multiboot', 'bzimage']).default('auto'),
    kernel: z.string().min(1),
    initrd: z.string().min(1).optional(),
    modules: z.array(z.string().min(1)).optional(),
    cmdline: z.string().max(4096).default(''),
  }),
  devices: z
    .array(DeviceSchema)
    .default(() => DEFAULT_DEVICES.map((d) => ({ ...d })))
    .superRefine((devices, ctx) => {
      // Two devices claiming one base port would make the bus reject the machine later,
      // with a message that no longer points at the profile.
      const seen = new Map<number, number>();
      const slots = new Map<number, number>();
      devices.forEach((d, i) => {
        if (!('port' in d)) {
          if (d.slot === undefined) return;
          const firstSlot = slots.get(d.slot);
          if (firstSlot === undefined) slots.set(d.slot, i);
          else ctx.addIssue({ code: 'custom', path: [i, 'slot'], message: `PCI slot ${d.slot} is already used by devices[${firstSlot}]` });
          return;
        }
        const first = seen.get(d.port);
        if (first === undefined) seen.set(d.port, i);
        else
          ctx.addIssue({
            code: 'custom',
            path: [i, 'port'],
            message: `port 0x${d.port.toString(16)} is already used by devices[${first}]`,
          });
      });
    }),
});

export type Profile = z.output<typeof ProfileSchema>;
/** What a profile file may contain: defaults are optional here. */
export type ProfileInput = z.input<typeof ProfileSchema>;

/** Validate parsed JSON as a profile; `label` names the file in the error message. */
export function parseProfile(data: unknown, label?: string): Profile {
  const where = label ? `profile ${label}` : 'invalid profile';
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > PROFILE_VERSION) {
    throw new ProfileError(
      `${where}: version ${version} is newer than this irqbench reads (${PROFILE_VERSION}); update irqbench`,
      { file: label, issues: [{ path: 'version', message: 'unsupported version' }] },
    );
  }
  const result = ProfileSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap(toIssues);
  const text = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  throw new ProfileError(`${where}: ${text}`, { file: label, issues, cause: result.error });
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function toIssues(iss: z.core.$ZodIssue): ProfileIssue[] {
  if (iss.code === 'unrecognized_keys') {
    return iss.keys.map((k) => ({ path: formatPath([...iss.path, k]), message: 'unknown field' }));
  }
  return [{ path: formatPath(iss.path), message: describe(iss) }];
}

function describe(iss: z.core.$ZodIssue): string {
  const list = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'Required';
      if (iss.expected === 'int') return 'must be an integer';
      return `must be ${article(iss.expected)}, not ${kindOf(iss.input)}`;
    case 'too_big':
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      if (iss.origin === 'array') return `must have at most ${iss.maximum} items`;
      return iss.inclusive ? `must be at most ${iss.maximum}` : `must be less than ${iss.maximum}`;
    case 'too_small':
      if (iss.origin === 'string') return iss.minimum === 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      if (iss.origin === 'array') return `must have at least ${iss.minimum} items`;
      return iss.inclusive ? `must be at least ${iss.minimum}` : `must be more than ${iss.minimum}`;
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    case 'invalid_value':
      if (iss.input === undefined) return 'Required';
      return iss.values.length === 1 ? `must be ${list(iss.values)}` : `must be one of ${list(iss.values)}`;
    case 'invalid_union': {
      const options = (iss as { options?: unknown[] }).options;
      if (options) return `must be one of ${list(options)}`;
      return 'does not match any allowed form';
    }
    default:
      return iss.message;
  }
}

function article(kind: string): string {
  return /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return article(typeof v);
}
