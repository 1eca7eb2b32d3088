// Helpers for integration tests that boot lab guests: run one to completion with its serial
// output captured, answer prompts on the console, and parse the LAB-* results protocol.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { guestsDir } from '../../core/paths.js';
import { runMachine } from '../../core/machine/run.js';
import { DEFAULT_DEVICES, type IrqchipMode } from '../../core/machine/config.js';
import type { MachineResult, Machine } from '../../core/machine/machine.js';
import { buildElf, u32le } from '../../core/boot/synthetic.js';

export const hasKvm = existsSync('/dev/kvm');

/**
 * The development machines' software KVM backend (kvm_pvm) behaves as if every LAPIC
 * interrupt were EOI'd on delivery (ISR never set in the handler, level lines re-delivered
 * before EOI). Lab guests turn the checks that depend on the ISR into declared `xfail`
 * lines when told `quirks=auto-eoi`; on any other KVM every check stays strict.
 */
export const autoEoiBackend = existsSync('/sys/module/kvm_pvm');
export const GUEST_QUIRKS = autoEoiBackend ? 'quirks=auto-eoi' : '';

export interface GuestRun {
  result: MachineResult;
  output: string;
  log: string[];
  machine: Machine;
}

export interface GuestRunOptions {
  cpus?: number;
  irqchip?: IrqchipMode;
  cmdline?: string;
  kind?: 'auto' | 'pvh' | 'multiboot';
  platform?: 'kvm' | 'xen-hvm';
  timeoutMs?: number;
  /** Console prompts and the text to type when each appears. */
  answers?: [RegExp, string][];
  /** Called once the machine stops, before its resources are freed (final statistics). */
  onEnding?(machine: Machine): void;
}

export function guestPath(name: string): string {
  return join(guestsDir(), `${name}.elf`);
}

export async function runGuestFile(kernel: string, o: GuestRunOptions = {}): Promise<GuestRun> {
  let output = '';
  let machine: Machine | undefined;
  const pending = [...(o.answers ?? [])];
  const timeout = setTimeout(() => void machine?.stop(), o.timeoutMs ?? 30_000);
  try {
    const result = await runMachine(
      {
        name: kernel,
        ...(o.platform && { platform: o.platform }),
        cpus: o.cpus ?? 1,
        memoryMiB: 64,
        irqchip: o.irqchip ?? 'kernel',
        boot: { kind: o.kind ?? 'auto', kernel, cmdline: o.cmdline ?? '' },
        devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
      },
      {
        onMachine: (m) => (machine = m),
        ...(o.onEnding && { onEnding: o.onEnding }),
        onConsole: (b) => {
          output += Buffer.from(b).toString('latin1');
          while (pending.length && pending[0]![0].test(output)) machine!.sendConsole(Buffer.from(pending.shift()![1]));
        },
      },
    );
    return { result, output, log: machine!.log, machine: machine! };
  } finally {
    clearTimeout(timeout);
  }
}

export const runGuest = (name: string, o: GuestRunOptions = {}): Promise<GuestRun> => runGuestFile(guestPath(name), o);

export interface LabResults {
  passed: string[];
  failed: string[];
  done?: { guest: string; pass: number; fail: number };
}

export function labResults(output: string): LabResults {
  const passed = [...output.matchAll(/^LAB-PASS (.+?)\r?$/gm)].map((m) => m[1]!);
  const failed = [...output.matchAll(/^LAB-FAIL (.+?)\r?$/gm)].map((m) => m[1]!);
  const d = /^LAB-DONE (\S+) pass=(\d+) fail=(\d+)/m.exec(output);
  return { passed, failed, done: d ? { guest: d[1]!, pass: Number(d[2]), fail: Number(d[3]) } : undefined };
}

/**
 * A PVH kernel that triple-faults at once: loads an empty IDT, then executes ud2
 * (#UD -> #GP on the empty IDT -> #DF -> shutdown).
 */
export function tripleFaultKernel(): Uint8Array {
  const base = 0x100000;
  const idtr = base + 0x20;
  const code = Uint8Array.from([0x0f, 0x01, 0x1d, ...u32le(idtr), 0x0f, 0x0b]);
  const image = new Uint8Array(0x30);
  image.set(code, 0);
  return buildElf({
    elfClass: 32,
    entry: BigInt(base),
    segments: [{ paddr: base, data: image }],
    notes: [{ name: 'Xen', type: 18, desc: u32le(base) }],
  });
}
