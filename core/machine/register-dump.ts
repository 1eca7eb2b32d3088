// Formats vCPU registers the way people reading crash logs expect (QEMU "info registers"
// layout), for the VM log when a guest crashes.
import type { Regs, Segment, Sregs } from '../kvm/structs.js';

const hex = (v: bigint, w = 16): string => v.toString(16).padStart(w, '0');

function seg(name: string, s: Segment): string {
  const flags = `type=${s.type.toString(16)} dpl=${s.dpl} p=${s.present} db=${s.db} l=${s.l} g=${s.g}`;
  return `${name.toUpperCase().padEnd(3)}=${s.selector.toString(16).padStart(4, '0')} ${hex(s.base)} ${s.limit.toString(16).padStart(8, '0')} ${flags}`;
}

export function formatRegisterDump(r: Regs, s: Sregs): string {
  const lines = [
    `RAX=${hex(r.rax)} RBX=${hex(r.rbx)} RCX=${hex(r.rcx)} RDX=${hex(r.rdx)}`,
    `RSI=${hex(r.rsi)} RDI=${hex(r.rdi)} RBP=${hex(r.rbp)} RSP=${hex(r.rsp)}`,
    `R8 =${hex(r.r8)} R9 =${hex(r.r9)} R10=${hex(r.r10)} R11=${hex(r.r11)}`,
    `R12=${hex(r.r12)} R13=${hex(r.r13)} R14=${hex(r.r14)} R15=${hex(r.r15)}`,
    `RIP=${hex(r.rip)} RFL=${hex(r.rflags, 8)}`,
    ...(['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldt', 'tr'] as const).map((n) => seg(n, s[n])),
    `GDT=     ${hex(s.gdt.base)} ${s.gdt.limit.toString(16).padStart(8, '0')}`,
    `IDT=     ${hex(s.idt.base)} ${s.idt.limit.toString(16).padStart(8, '0')}`,
    `CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2)} CR3=${hex(s.cr3)} CR4=${hex(s.cr4, 8)}`,
    `EFER=${hex(s.efer)} APIC_BASE=${hex(s.apicBase)} CR8=${hex(s.cr8)}`,
  ];
  return lines.join('\n');
}
