// 16550A UART: registers, THRE/RX/timeout/line-status/modem interrupts and their IRQ line
// sequences, host input queueing, loopback and hostile accesses.
import { describe, expect, it } from 'vitest';
import { ManualTime } from './manual-time.js';
import { RecordingIrqLine } from './test-helpers.js';
import { Uart16550 } from './uart16550.js';
import * as R from './uart16550-regs.js';

function setup(opts: { scheduler?: boolean } = {}) {
  const irq = new RecordingIrqLine();
  const tx: number[] = [];
  const time = new ManualTime();
  const uart = new Uart16550({
    irq,
    onTransmit: (b) => tx.push(b),
    ...(opts.scheduler === false ? {} : { clock: time.clock, scheduler: time }),
  });
  const outb = (reg: number, v: number) => uart.write(reg, 1, v);
  const inb = (reg: number) => uart.read(reg, 1);
  return { uart, irq, tx, time, outb, inb };
}

describe('Uart16550 registers', () => {
  it('has datasheet reset values', () => {
    const { inb } = setup();
    expect(inb(R.REG_IER)).toBe(0);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_NO_INT);
    expect(inb(R.REG_LCR)).toBe(0);
    expect(inb(R.REG_MCR)).toBe(0);
    expect(inb(R.REG_LSR)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(inb(R.REG_MSR) & 0xf0).toBe(R.MSR_CTS | R.MSR_DSR | R.MSR_DCD);
  });

  it('exposes DLL/DLM behind DLAB and keeps IER separate', () => {
    const { outb, inb } = setup();
    outb(R.REG_IER, 0x05);
    outb(R.REG_LCR, R.LCR_DLAB | 0x03);
    outb(R.REG_DATA, 0x01);
    outb(R.REG_IER, 0x02);
    expect(inb(R.REG_DATA)).toBe(0x01);
    expect(inb(R.REG_IER)).toBe(0x02);
    outb(R.REG_LCR, 0x03);
    expect(inb(R.REG_IER)).toBe(0x05);
    expect(inb(R.REG_LCR)).toBe(0x03);
  });

  it('masks reserved IER/MCR bits and ignores LSR/MSR writes', () => {
    const { uart, outb, inb } = setup();
    outb(R.REG_IER, 0xff);
    expect(inb(R.REG_IER)).toBe(0x0f);
    outb(R.REG_IER, 0);
    outb(R.REG_MCR, 0xff & ~R.MCR_LOOP);
    expect(inb(R.REG_MCR)).toBe(0x0f);
    outb(R.REG_LSR, 0x00);
    outb(R.REG_MSR, 0x00);
    expect(inb(R.REG_LSR)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(uart.stats.ignoredWrites).toBe(2);
  });

  it('scratch register round-trips; detection sequences see a 16550A', () => {
    const { outb, inb } = setup();
    outb(R.REG_SCR, 0xa5);
    expect(inb(R.REG_SCR)).toBe(0xa5);
    outb(R.REG_IIR_FCR, 0xe7); // Linux autoconfig: enable + 64-byte bit (16750 only)
    expect(inb(R.REG_IIR_FCR) & 0xe0).toBe(0xc0); // FIFOs enabled, no 64-byte FIFO
    // Linux loopback test: MCR = LOOP | OUT2 | RTS must read MSR 0x90.
    outb(R.REG_MCR, R.MCR_LOOP | 0x0a);
    expect(inb(R.REG_MSR) & 0xf0).toBe(0x90);
  });
});

describe('Uart16550 transmit and THRE interrupt', () => {
  it('transmits bytes through onTransmit and counts them', () => {
    const { uart, tx, outb } = setup();
    for (const c of 'hi') outb(R.REG_DATA, c.charCodeAt(0));
    expect(String.fromCharCode(...tx)).toBe('hi');
    expect(uart.stats.txBytes).toBe(2);
  });

  it('raises THRE on ETBEI when THR is empty, clears it on IIR read, re-arms on 0->1', () => {
    const { irq, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_OUT2);
    outb(R.REG_IER, R.IER_ETBEI);
    expect(irq.level).toBe(true);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_THRI);
    expect(irq.level).toBe(false);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_NO_INT);
    outb(R.REG_IER, R.IER_ETBEI); // unchanged: no re-arm
    expect(irq.level).toBe(false);
    outb(R.REG_IER, 0);
    outb(R.REG_IER, R.IER_ETBEI); // 0 -> 1 re-arms (QEMU/Bochs semantics)
    expect(irq.level).toBe(true);
    expect(irq.history).toEqual([true, false, true]);
  });

  it('writing THR clears THRE then raises it again when the byte has left', () => {
    const { irq, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_OUT2);
    outb(R.REG_IER, R.IER_ETBEI);
    inb(R.REG_IIR_FCR);
    irq.clear();
    outb(R.REG_DATA, 0x41);
    expect(irq.history).toEqual([true]);
    outb(R.REG_DATA, 0x42); // source still pending: clear + re-raise gives a fresh edge
    expect(irq.history).toEqual([true, false, true]);
  });

  it('OUT2 gates the ISA IRQ line', () => {
    const { uart, irq, outb } = setup();
    outb(R.REG_IER, R.IER_ETBEI);
    expect(irq.history).toEqual([]);
    expect(uart.read(R.REG_IIR_FCR, 1)).toBe(R.IIR_THRI); // pending internally
    outb(R.REG_IER, 0);
    outb(R.REG_IER, R.IER_ETBEI);
    outb(R.REG_MCR, R.MCR_OUT2);
    expect(irq.level).toBe(true);
    outb(R.REG_MCR, 0);
    expect(irq.level).toBe(false);
  });
});

describe('Uart16550 receive path', () => {
  it('16450 mode: one byte in RBR, host queue refills on read, nothing is lost', () => {
    const { uart, irq, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_OUT2);
    outb(R.REG_IER, R.IER_ERBFI);
    uart.receive('abc');
    expect(uart.hostQueueLength).toBe(2);
    expect(irq.level).toBe(true);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_RDI);
    let out = '';
    while (inb(R.REG_LSR) & R.LSR_DR) out += String.fromCharCode(inb(R.REG_DATA));
    expect(out).toBe('abc');
    expect(irq.level).toBe(false);
    expect(inb(R.REG_LSR) & R.LSR_OE).toBe(0);
    expect(uart.stats.overruns).toBe(0);
  });

  it('FIFO mode: RDI at trigger level, CTI after 4 character times below it', () => {
    const { uart, irq, time, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_OUT2);
    outb(R.REG_IIR_FCR, R.FCR_FIFO_ENABLE | (2 << R.FCR_TRIGGER_SHIFT)); // trigger 8
    outb(R.REG_LCR, 0x03); // 8N1
    outb(R.REG_IER, R.IER_ERBFI);
    uart.receive('abc');
    expect(irq.level).toBe(false);
    expect(inb(R.REG_IIR_FCR)).toBe(0xc0 | R.IIR_NO_INT);
    // 9600 8N1: 10 bits * 12 / 115200 s = 1.0417 ms per char; timeout = 4 chars.
    time.advance(4_000_000);
    expect(irq.level).toBe(false);
    time.advance(200_000);
    expect(irq.level).toBe(true);
    expect(inb(R.REG_IIR_FCR)).toBe(0xc0 | R.IIR_CTI);
    expect(inb(R.REG_DATA)).toBe(0x61); // read clears the timeout indication
    expect(irq.level).toBe(false);
    uart.receive('defghijk');
    expect(inb(R.REG_IIR_FCR)).toBe(0xc0 | R.IIR_RDI);
  });

  it('FIFO holds 16 bytes; the rest waits in the host queue', () => {
    const { uart, outb, inb } = setup();
    outb(R.REG_IIR_FCR, R.FCR_FIFO_ENABLE);
    uart.receive(new Uint8Array(40).map((_, i) => i));
    expect(uart.hostQueueLength).toBe(24);
    const got: number[] = [];
    while (inb(R.REG_LSR) & R.LSR_DR) got.push(inb(R.REG_DATA));
    expect(got).toEqual([...Array(40).keys()]);
  });

  it('FCR RX reset clears the FIFO and refills from the host queue', () => {
    const { uart, outb, inb } = setup();
    outb(R.REG_IIR_FCR, R.FCR_FIFO_ENABLE);
    uart.receive(new Uint8Array(20).fill(7));
    outb(R.REG_IIR_FCR, R.FCR_FIFO_ENABLE | R.FCR_RX_RESET);
    expect(uart.hostQueueLength).toBe(0);
    let n = 0;
    while (inb(R.REG_LSR) & R.LSR_DR) (inb(R.REG_DATA), n++);
    expect(n).toBe(4);
  });

  it('drops host input beyond the host queue limit and counts it', () => {
    const uart = new Uart16550({ hostQueueLimit: 4 });
    uart.receive('abcdefgh'); // 1 into RBR after queueing 4
    expect(uart.stats.rxDropped).toBe(4);
  });

  it('without a scheduler the character timeout is immediate', () => {
    const { uart, irq, outb, inb } = setup({ scheduler: false });
    outb(R.REG_MCR, R.MCR_OUT2);
    outb(R.REG_IIR_FCR, R.FCR_FIFO_ENABLE | (3 << R.FCR_TRIGGER_SHIFT));
    outb(R.REG_IER, R.IER_ERBFI);
    uart.receive('x');
    expect(irq.level).toBe(true);
    expect(inb(R.REG_IIR_FCR)).toBe(0xc0 | R.IIR_CTI);
  });
});

describe('Uart16550 loopback, overrun and priorities', () => {
  it('loopback routes TX to RX, keeps the host input out and gates the IRQ', () => {
    const { uart, irq, tx, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_LOOP | R.MCR_OUT2);
    outb(R.REG_IER, R.IER_ERBFI);
    uart.receive('H');
    outb(R.REG_DATA, 0x5a);
    expect(tx).toEqual([]);
    expect(irq.level).toBe(false); // OUT2 pin forced inactive in loopback
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_RDI);
    expect(inb(R.REG_DATA)).toBe(0x5a);
    outb(R.REG_MCR, R.MCR_OUT2);
    expect(inb(R.REG_DATA)).toBe(0x48); // host byte arrives once loopback ends
  });

  it('loopback overrun sets OE, raises RLSI above RDI, LSR read clears it', () => {
    const { uart, outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_LOOP);
    outb(R.REG_IER, R.IER_ERBFI | R.IER_ELSI | R.IER_ETBEI);
    outb(R.REG_DATA, 1);
    outb(R.REG_DATA, 2); // 16450 mode: overwrites RBR
    expect(uart.stats.overruns).toBe(1);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_RLSI);
    expect(inb(R.REG_LSR) & (R.LSR_OE | R.LSR_DR)).toBe(R.LSR_OE | R.LSR_DR);
    expect(inb(R.REG_LSR) & R.LSR_OE).toBe(0);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_RDI);
    expect(inb(R.REG_DATA)).toBe(2);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_THRI);
  });

  it('modem status interrupt from loopback MCR changes, deltas clear on MSR read', () => {
    const { outb, inb } = setup();
    outb(R.REG_MCR, R.MCR_LOOP);
    inb(R.REG_MSR);
    outb(R.REG_IER, R.IER_EDSSI);
    outb(R.REG_MCR, R.MCR_LOOP | R.MCR_RTS | R.MCR_OUT1);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_MSI);
    outb(R.REG_MCR, R.MCR_LOOP | R.MCR_RTS);
    const msr = inb(R.REG_MSR);
    expect(msr & 0x0f).toBe(R.MSR_DCTS | R.MSR_TERI);
    expect(msr & 0xf0).toBe(R.MSR_CTS);
    expect(inb(R.REG_IIR_FCR)).toBe(R.IIR_NO_INT);
  });
});

describe('Uart16550 hostile accesses', () => {
  it('splits word accesses into byte cycles and floats bytes past the range', () => {
    const { uart, tx } = setup();
    uart.write(0, 2, 0x0142); // THR <- 0x42, IER <- 0x01
    expect(tx).toEqual([0x42]);
    expect(uart.read(1, 1)).toBe(0x01);
    expect(uart.read(7, 2)).toBe(0xff00); // SCR = 0, byte 8 is outside the UART
    expect(uart.read(6, 4) >>> 16).toBe(0xffff);
  });

  it('never throws on odd sizes, offsets and values', () => {
    const { uart } = setup();
    for (const size of [0, 3, 5, 8, -1, NaN, 1.5]) {
      for (const off of [-1, 0, 7, 8, 1000, 2.5, NaN]) {
        expect(() => uart.read(off, size)).not.toThrow();
        expect(() => uart.write(off, size, 0xdeadbeef)).not.toThrow();
      }
    }
    expect(() => uart.write(0, 1, NaN)).not.toThrow();
    expect(() => uart.write(0, 1, -5)).not.toThrow();
    expect(() => uart.write(0, 1, 2 ** 60)).not.toThrow();
    expect(uart.stats.badAccesses).toBeGreaterThan(0);
    expect(uart.read(100, 1)).toBe(0xff);
  });
});
