// Initial vCPU state: the CPUID each vCPU reports (the host's supported leaves with this
// vCPU's APIC ID filled in) and the register state a boot protocol asks for at the kernel
// entry point (protected mode for PVH/multiboot, long mode for the Linux 64-bit protocol).
import type { BootState } from '../boot/types.js';
import type { CpuidEntry, Regs, Segment, Sregs } from '../kvm/structs.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME } from '../kvm/x86-regs.js';

const RFLAGS_RESERVED = 2n;

// Segment descriptor types (SDM 3A, 3.4.5.1)
const TYPE_CODE_EXEC_READ_ACCESSED = 0xb;
const TYPE_DATA_READ_WRITE_ACCESSED = 0x3;

// CPUID bits (SDM vol. 2A, CPUID)
const CPUID_1_ECX_X2APIC = 1 << 21;
const CPUID_1_ECX_HYPERVISOR = 1 << 31;

/** CPUID for vCPU `apicId` of `cpus`: APIC IDs in leaves 1, 0xB and 0x1F. */
export function cpuidFor(supported: CpuidEntry[], apicId: number, cpus: number): CpuidEntry[] {
  return supported.map((e) => {
    const out = { ...e };
    if (e.function === 1) {
      out.ebx = (e.ebx & 0x0000ffff) | ((cpus & 0xff) << 16) | ((apicId & 0xff) << 24);
      out.ecx = e.ecx | CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_X2APIC;
    } else if (e.function === 0xb || e.function === 0x1f) {
      out.edx = apicId;
    }
    return out;
  });
}

function flatSegment(selector: number, type: number, long: boolean): Segment {
  return {
    base: 0n, limit: 0xffffffff, selector, type, present: 1, dpl: 0,
    db: long && type === TYPE_CODE_EXEC_READ_ACCESSED ? 0 : 1,
    s: 1, l: long && type === TYPE_CODE_EXEC_READ_ACCESSED ? 1 : 0, g: 1, avl: 0, unusable: 0,
  };
}

/** Put the boot vCPU in the state `boot` describes. */
export function applyBootState(vcpu: Vcpu, boot: BootState): void {
  const s: Sregs = vcpu.getSregs();
  const long = boot.mode === 'long64';
  const code = flatSegment(boot.codeSelector ?? 0x10, TYPE_CODE_EXEC_READ_ACCESSED, long);
  const dataSel = boot.dataSelector ?? 0x18;
  s.cs = code;
  for (const n of ['ds', 'es', 'fs', 'gs', 'ss'] as const) s[n] = flatSegment(dataSel, TYPE_DATA_READ_WRITE_ACCESSED, long);
  s.cr0 = (s.cr0 | CR0_PE | CR0_ET) & ~CR0_PG;
  if (long) {
    if (boot.cr3 === undefined || !boot.gdt) throw new Error('long-mode boot state needs cr3 and a GDT');
    s.cr0 |= CR0_MP | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = BigInt(boot.cr3);
    s.cr4 |= CR4_PAE;
    s.efer |= EFER_LME | EFER_LMA;
  }
  if (boot.gdt) s.gdt = { base: BigInt(boot.gdt.base), limit: boot.gdt.limit };
  vcpu.setSregs(s);

  const r: Regs = vcpu.getRegs();
  for (const k of Object.keys(r) as (keyof Regs)[]) r[k] = 0n;
  for (const [k, v] of Object.entries(boot.regs)) r[k as keyof Regs] = BigInt(v);
  r.rip = BigInt(boot.rip);
  r.rflags = RFLAGS_RESERVED;
  vcpu.setRegs(r);
}
