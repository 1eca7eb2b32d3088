// zod schemas for what a VM host returns to the service (live interrupt views, statistics).
// A host runs guest-facing code, so its replies are checked like any other input before
// they reach the UI. Shapes mirror the view types of core/api/contract.ts; the compile-time
// checks at the bottom keep the two in step.
import { z } from 'zod';
import type { MsixTableView, PciDeviceRef, RoutingTableView, XenPirqView, XenPortsView } from '../api/contract.js';

const int = z.number().int();
const u32 = int.min(0).max(0xffffffff);
const text = (max = 256) => z.string().max(max);
const counts = z.record(z.string().max(256), z.number());

export const MsixEntrySchema = z.object({
  index: int.min(0),
  addressLo: u32,
  addressHi: u32,
  data: u32,
  masked: z.boolean(),
  pending: z.boolean(),
  dest: int.min(0),
  vector: int.min(0).max(255),
  destMode: z.enum(['physical', 'logical']),
  deliveryMode: text(64),
  trigger: z.enum(['edge', 'level']),
  pirq: int.min(0).optional(),
  gsi: int.min(0).nullable(),
  path: text(),
  total: z.number(),
  coalesced: z.number(),
  firedWhileMasked: z.number(),
  deliveredAfterUnmask: z.number(),
  hostWrites: z.number().optional(),
});

export const MsixTableSchema = z.object({
  device: text(64),
  bdf: text(16),
  enabled: z.boolean(),
  functionMasked: z.boolean(),
  vectors: int.min(0).max(2048),
  tableBar: int.min(0).max(5),
  tableOffset: int.min(0),
  pbaBar: int.min(0).max(5),
  pbaOffset: int.min(0),
  first: int.min(0),
  entries: z.array(MsixEntrySchema).max(2048),
  canFire: z.boolean(),
});

export const PciDevicesSchema = z
  .array(z.object({ name: text(64), bdf: text(16), type: text(64), msixVectors: int.min(0).max(2048) }))
  .max(256);

export const RoutingTableSchema = z.object({
  entries: z
    .array(
      z.object({
        gsi: int.min(0),
        kind: z.enum(['irqchip', 'msi']),
        target: text().optional(),
        addressLo: u32.optional(),
        addressHi: u32.optional(),
        data: u32.optional(),
        dest: int.min(0).optional(),
        vector: int.min(0).max(255).optional(),
        owner: text().optional(),
        updates: z.number().optional(),
      }),
    )
    .max(65536),
  stats: counts,
});

export const XenPortsSchema = z.object({
  abi: z.enum(['2l', 'fifo', 'none']),
  vcpus: int.min(0),
  ports: z
    .array(
      z.object({
        port: int.min(0),
        type: text(32),
        vcpu: int.min(0),
        priority: int.min(0),
        pending: z.boolean(),
        masked: z.boolean(),
        detail: text(),
        sends: z.number(),
        deliveries: z.number(),
        coalesced: z.number(),
        maskedPending: z.number(),
        upcalls: z.number(),
      }),
    )
    .max(1 << 17),
});

export const XenPirqsSchema = z
  .array(
    z.object({
      pirq: int.min(0),
      source: text(),
      port: int.min(0).nullable(),
      count: z.number(),
      dropped: z.number(),
      masked: z.boolean().optional(),
    }),
  )
  .max(65536);

/** MachineStats is checked for its frame (the UI indexes these arrays); counters are numbers. */
export const MachineStatsSchema = z.looseObject({
  t: z.number(),
  irqchip: text(32),
  vcpus: z.array(z.looseObject({ id: int.min(0), state: text(32), exits: z.number(), localIo: z.number() })).max(64),
  devices: z.array(z.looseObject({ name: text(64), stats: counts })),
  buses: z.looseObject({ pio: counts, mmio: counts }),
});

export const StatsMessageSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('snapshot'), seq: int.min(0), t: z.number(), stats: MachineStatsSchema, counters: counts }),
  z.strictObject({
    kind: z.literal('delta'),
    seq: int.min(0),
    t: z.number(),
    dt: z.number(),
    changes: z.record(z.string().max(256), z.strictObject({ value: z.number(), rate: z.number() })),
  }),
]);

// Compile-time: every schema's output is assignable to the contract type it stands for.
const fits = <T>(_s: z.ZodType<T>) => undefined;
fits<MsixTableView>(MsixTableSchema);
fits<PciDeviceRef[]>(PciDevicesSchema);
fits<RoutingTableView>(RoutingTableSchema);
fits<XenPortsView>(XenPortsSchema);
fits<XenPirqView[]>(XenPirqsSchema);
