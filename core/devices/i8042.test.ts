// i8042: the command sequence Linux uses to probe the controller, the minimal keyboard,
// IRQ 1/12 edges per output byte and hostile accesses.
import { describe, expect, it } from 'vitest';
import { I8042 } from './i8042.js';
import { RecordingIrqLine } from './test-helpers.js';

function setup() {
  const kbdIrq = new RecordingIrqLine();
  const auxIrq = new RecordingIrqLine();
  let resets = 0;
  const a20: boolean[] = [];
  const kbc = new I8042({ kbdIrq, auxIrq, onReset: () => resets++, onA20: (e) => a20.push(e) });
  const status = () => kbc.commandPort.read(0, 1);
  const command = (c: number) => kbc.commandPort.write(0, 1, c);
  const data = () => kbc.dataPort.read(0, 1);
  const send = (b: number) => kbc.dataPort.write(0, 1, b);
  const drain = () => {
    const out: number[] = [];
    while (status() & 1) out.push(data());
    return out;
  };
  return { kbc, kbdIrq, auxIrq, status, command, data, send, drain, resets: () => resets, a20 };
}

describe('I8042 controller commands (Linux i8042 probe)', () => {
  it('status is not 0xff; self-test answers 0x55 and sets SYS', () => {
    const { status, command, drain } = setup();
    expect(status()).not.toBe(0xff);
    expect(status() & 0x04).toBe(0);
    command(0xaa);
    expect(drain()).toEqual([0x55]);
    expect(status() & 0x04).toBe(0x04);
  });

  it('reads and writes the command byte', () => {
    const { kbc, command, send, drain, status } = setup();
    command(0x20);
    expect(drain()).toEqual([0x03]);
    command(0x60);
    expect(status() & 0x08).toBe(0x08);
    send(0x65);
    expect(status() & 0x08).toBe(0);
    expect(kbc.commandByte).toBe(0x65);
    command(0x20);
    expect(drain()).toEqual([0x65]);
  });

  it('AUX loopback (0xd3) returns the byte as AUX data with IRQ 12; AUX test passes', () => {
    const { command, send, status, data, auxIrq, kbdIrq } = setup();
    command(0xd3);
    send(0x5a);
    expect(status() & 0x21).toBe(0x21);
    expect(auxIrq.level).toBe(true);
    expect(kbdIrq.level).toBe(false);
    expect(data()).toBe(0x5a);
    expect(auxIrq.level).toBe(false);
    command(0xa9);
    expect(data()).toBe(0x00);
  });

  it('AUX device writes time out with 0xfe', () => {
    const { command, send, status, data } = setup();
    command(0xd4);
    send(0xf2);
    expect(status() & 0x61).toBe(0x61);
    expect(data()).toBe(0xfe);
  });

  it('A7/A8/AD/AE toggle the disable bits', () => {
    const { kbc, command } = setup();
    command(0xa7);
    command(0xad);
    expect(kbc.commandByte & 0x30).toBe(0x30);
    command(0xa8);
    command(0xae);
    expect(kbc.commandByte & 0x30).toBe(0);
  });

  it('0xfe pulses reset; 0xff does not; output port bit 0 = 0 resets too', () => {
    const { command, send, resets, drain, a20 } = setup();
    command(0xfe);
    expect(resets()).toBe(1);
    command(0xff);
    expect(resets()).toBe(1);
    command(0xd0);
    expect(drain()).toEqual([0x03]);
    command(0xd1);
    send(0x01); // A20 off, reset line held low? no: bit 0 = 1 keeps the CPU running
    expect(resets()).toBe(1);
    expect(a20).toEqual([false]);
    command(0xd1);
    send(0x02);
    expect(resets()).toBe(2);
    command(0xdf);
    command(0xdd);
    expect(a20).toEqual([false, true, false]);
  });

  it('unknown commands are counted and ignored', () => {
    const { kbc, command, status } = setup();
    command(0x12);
    expect(kbc.stats.unknownCommands).toBe(1);
    expect(status() & 1).toBe(0);
  });
});

describe('I8042 keyboard', () => {
  it('answers get-ID and reset, with IRQ 1 per byte', () => {
    const { send, drain, kbdIrq } = setup();
    send(0xf2);
    expect(kbdIrq.level).toBe(true);
    expect(drain()).toEqual([0xfa, 0xab, 0x83]);
    expect(kbdIrq.risingEdges).toBe(3);
    send(0xff);
    expect(drain()).toEqual([0xfa, 0xaa]);
  });

  it('translated mode reports ID 0x41; LED command takes a parameter', () => {
    const { command, send, drain } = setup();
    command(0x60);
    send(0x43);
    send(0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x41]);
    send(0xed);
    send(0x07);
    expect(drain()).toEqual([0xfa, 0xfa]);
    send(0x01); // not a command: resend request
    expect(drain()).toEqual([0xfe]);
  });

  it('no IRQ 1 while KBDINT is off; keyboard bytes wait while the port is disabled', () => {
    const { kbc, command, send, drain, kbdIrq, status } = setup();
    command(0x60);
    send(0x00);
    send(0xee);
    expect(kbdIrq.history).toEqual([]);
    expect(drain()).toEqual([0xee]);
    command(0xad);
    expect(kbc.injectKeyboardBytes([0x1c, 0xf0, 0x1c])).toBe(true);
    expect(status() & 1).toBe(0);
    command(0xae);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c]);
  });
});

describe('I8042 hostile accesses', () => {
  it('never throws and floats bytes beyond the single port', () => {
    const { kbc } = setup();
    expect(kbc.dataPort.read(0, 2) >>> 8).toBe(0xff);
    for (const [off, size] of [[1, 1], [-1, 1], [0, 3], [NaN, 1], [0, 4]] as const) {
      expect(() => kbc.dataPort.write(off, size, 0xffffffff)).not.toThrow();
      expect(() => kbc.commandPort.write(off, size, 0xffffffff)).not.toThrow();
      expect(() => kbc.dataPort.read(off, size)).not.toThrow();
    }
    // a flood of commands without reading stays bounded
    for (let i = 0; i < 1000; i++) kbc.commandPort.write(0, 1, 0x20);
    expect(kbc.stats.droppedBytes).toBeGreaterThan(0);
  });
});
