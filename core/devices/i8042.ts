// Minimal i8042 keyboard controller: data port 0x60 and status/command port 0x64, exposed as
// two IoDevices because the ports are not contiguous (0x61 belongs to the PIT speaker port).
// Controller commands answer through a one-byte output buffer fed from three queues in
// priority order: controller replies, keyboard bytes (a small answering PS/2 keyboard), AUX
// bytes (no mouse: AUX writes fail with a timeout, so Linux drops the port quickly). The
// output buffer drives IRQ 1 or IRQ 12 when enabled in the command byte. Reset requests
// (pulse 0xFE, output port bit 0 = 0) go to onReset(); A20 changes to onA20().
import type { IoDevice } from '../bus/types.js';
import { NullIrqLine, type IrqLine } from '../irq/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';
import { Ps2Keyboard } from './ps2-keyboard.js';

// Status register bits (IBM PC/AT Technical Reference, "Keyboard Controller Status").
const STR_OBF = 0x01;
const STR_SYS = 0x04; // system flag: POST / self-test passed
const STR_CMD = 0x08; // last write went to port 0x64
const STR_KEYLOCK = 0x10; // 1 = keyboard not inhibited
const STR_AUXDATA = 0x20; // output buffer holds AUX data
const STR_TIMEOUT = 0x40;
// Command byte (controller RAM byte 0) bits.
const CTR_KBDINT = 0x01;
const CTR_AUXINT = 0x02;
const CTR_SYS = 0x04;
const CTR_KBDDIS = 0x10;
const CTR_AUXDIS = 0x20;
const CTR_XLATE = 0x40;
// Output port bits (command 0xD0/0xD1).
const OUT_RESET_N = 0x01; // 0 = hold the CPU in reset
const OUT_A20 = 0x02;
const OUT_KBD_OBF = 0x10;
const OUT_AUX_OBF = 0x20;
const OUT_STORED = 0xcf; // bits 4/5 are live buffer-full indications

// Controller commands.
const CMD_READ_RAM = 0x20; // 0x20..0x3f
const CMD_WRITE_RAM = 0x60; // 0x60..0x7f
const CMD_AUX_DISABLE = 0xa7;
const CMD_AUX_ENABLE = 0xa8;
const CMD_AUX_TEST = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_KBD_TEST = 0xab;
const CMD_KBD_DISABLE = 0xad;
const CMD_KBD_ENABLE = 0xae;
const CMD_READ_INPUT = 0xc0;
const CMD_READ_OUTPUT = 0xd0;
const CMD_WRITE_OUTPUT = 0xd1;
const CMD_WRITE_KBD_OB = 0xd2;
const CMD_WRITE_AUX_OB = 0xd3;
const CMD_WRITE_AUX = 0xd4;
const CMD_A20_DISABLE = 0xdd; // HP Vectra extension, also in QEMU
const CMD_A20_ENABLE = 0xdf;
const CMD_READ_TEST_INPUTS = 0xe0;
const CMD_PULSE_BASE = 0xf0; // 0xf0..0xff: pulse output bits whose command bit is 0

const SELF_TEST_OK = 0x55;
const PORT_TEST_OK = 0x00;
const INPUT_PORT_VALUE = 0x80; // keyboard not inhibited
const AUX_NO_DEVICE = 0xfe;
const QUEUE_LIMIT = 64;

export interface I8042Options {
  name?: string;
  kbdIrq?: IrqLine; // ISA IRQ 1
  auxIrq?: IrqLine; // ISA IRQ 12
  onReset?: () => void;
  onA20?: (enabled: boolean) => void;
}

export interface I8042Stats {
  commands: number;
  unknownCommands: number;
  resets: number;
  kbdInterrupts: number;
  auxInterrupts: number;
  droppedBytes: number;
  badAccesses: number;
}

interface OutByte {
  byte: number;
  aux: boolean;
  timeout: boolean;
}

export class I8042 {
  readonly name: string;
  readonly stats: I8042Stats = {
    commands: 0, unknownCommands: 0, resets: 0, kbdInterrupts: 0, auxInterrupts: 0, droppedBytes: 0, badAccesses: 0,
  };
  readonly keyboard: Ps2Keyboard;
  /** Port 0x60. */
  readonly dataPort: IoDevice;
  /** Port 0x64. */
  readonly commandPort: IoDevice;

  private readonly kbdIrq: IrqLine;
  private readonly auxIrq: IrqLine;
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;
  private readonly ram = new Uint8Array(32); // byte 0 is the command byte
  private sysFlag = false;
  private lastWasCommand = true;
  private outport = OUT_RESET_N | OUT_A20;
  private pendingCommand: number | null = null;
  private ob: OutByte | null = null;
  private lastRead = 0;
  private readonly replies: OutByte[] = [];
  private readonly kbdQueue: number[] = [];
  private kbdLevel = false;
  private auxLevel = false;

  constructor(options: I8042Options = {}) {
    this.name = options.name ?? 'i8042';
    this.kbdIrq = options.kbdIrq ?? NullIrqLine;
    this.auxIrq = options.auxIrq ?? NullIrqLine;
    this.onReset = options.onReset ?? (() => {});
    this.onA20 = options.onA20 ?? (() => {});
    this.keyboard = new Ps2Keyboard((b) => this.fromKeyboard(b));
    this.dataPort = this.port(`${this.name}-data`, () => this.readData(), (b) => this.writeData(b));
    this.commandPort = this.port(`${this.name}-cmd`, () => this.readStatus(), (b) => this.writeCommand(b));
    this.reset();
  }

  /** Controller reset: QEMU's power-on state (keyboard and AUX interrupts enabled). */
  reset(): void {
    this.ram.fill(0);
    this.ram[0] = CTR_KBDINT | CTR_AUXINT;
    this.sysFlag = false;
    this.lastWasCommand = true;
    this.outport = OUT_RESET_N | OUT_A20;
    this.pendingCommand = null;
    this.ob = null;
    this.replies.length = 0;
    this.kbdQueue.length = 0;
    this.keyboard.reset();
    this.keyboard.translate = false;
    this.update();
  }

  /** Host key input (scancodes in the active set), delivered while scanning is enabled. */
  injectKeyboardBytes(bytes: readonly number[]): boolean {
    const accepted = this.keyboard.sendScancodes(bytes);
    this.update();
    return accepted;
  }

  get commandByte(): number {
    return this.ram[0]!;
  }

  private port(name: string, read: () => number, write: (byte: number) => void): IoDevice {
    return {
      name,
      read: (offset, size) => {
        const v = splitRead(offset, size, 1, read);
        if (v === null) this.stats.badAccesses++;
        return v ?? floatingValue(size);
      },
      write: (offset, size, value) => {
        if (!splitWrite(offset, size, value, 1, (_o, b) => write(b))) this.stats.badAccesses++;
      },
    };
  }

  private readStatus(): number {
    return (
      (this.ob ? STR_OBF : 0) |
      (this.ob?.aux ? STR_AUXDATA : 0) |
      (this.ob?.timeout ? STR_TIMEOUT : 0) |
      (this.sysFlag ? STR_SYS : 0) |
      (this.lastWasCommand ? STR_CMD : 0) |
      STR_KEYLOCK
    );
  }

  private readData(): number {
    // An empty output buffer still returns its last contents, like the real latch.
    if (this.ob) {
      this.lastRead = this.ob.byte;
      this.ob = null;
      // Deassert before the next byte moves in so each byte is a fresh edge: Linux reads
      // one byte per interrupt (QEMU's ps2_read_data lowers and re-raises the same way).
      this.driveIrqs();
      this.update();
    }
    return this.lastRead;
  }

  private writeData(byte: number): void {
    this.lastWasCommand = false;
    const cmd = this.pendingCommand;
    this.pendingCommand = null;
    if (cmd === null) {
      this.ram[0] = this.ram[0]! & ~CTR_KBDDIS; // talking to the keyboard re-enables its clock
      this.keyboard.write(byte);
      this.update();
      return;
    }
    if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
      this.ram[cmd - CMD_WRITE_RAM] = byte;
      if (cmd === CMD_WRITE_RAM) this.commandByteChanged();
    } else if (cmd === CMD_WRITE_OUTPUT) {
      this.writeOutport(byte);
    } else if (cmd === CMD_WRITE_KBD_OB) {
      this.reply(byte, false);
    } else if (cmd === CMD_WRITE_AUX_OB) {
      this.reply(byte, true);
    } else if (cmd === CMD_WRITE_AUX) {
      this.reply(AUX_NO_DEVICE, true, true); // nothing on the AUX port: time out
    }
    this.update();
  }

  private writeCommand(cmd: number): void {
    this.lastWasCommand = true;
    this.pendingCommand = null;
    this.stats.commands++;
    if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
      this.reply(this.ram[cmd - CMD_READ_RAM]!, false);
    } else if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) || (cmd >= CMD_WRITE_OUTPUT && cmd <= CMD_WRITE_AUX)) {
      this.pendingCommand = cmd; // the parameter follows on port 0x60
    } else if (cmd >= CMD_PULSE_BASE) {
      if (!(cmd & OUT_RESET_N)) this.requestReset(); // 0xfe: pulse the reset line
    } else {
      this.simpleCommand(cmd);
    }
    this.update();
  }

  private simpleCommand(cmd: number): void {
    switch (cmd) {
      case CMD_AUX_DISABLE: this.ram[0] = this.ram[0]! | CTR_AUXDIS; return;
      case CMD_AUX_ENABLE: this.ram[0] = this.ram[0]! & ~CTR_AUXDIS; return;
      case CMD_KBD_DISABLE: this.ram[0] = this.ram[0]! | CTR_KBDDIS; return;
      case CMD_KBD_ENABLE: this.ram[0] = this.ram[0]! & ~CTR_KBDDIS; return;
      case CMD_AUX_TEST:
      case CMD_KBD_TEST: this.reply(PORT_TEST_OK, false); return;
      case CMD_SELF_TEST: this.sysFlag = true; this.reply(SELF_TEST_OK, false); return;
      case CMD_READ_INPUT: this.reply(INPUT_PORT_VALUE, false); return;
      case CMD_READ_TEST_INPUTS: this.reply(0x00, false); return;
      case CMD_READ_OUTPUT: {
        const live = (this.ob && !this.ob.aux ? OUT_KBD_OBF : 0) | (this.ob?.aux ? OUT_AUX_OBF : 0);
        this.reply((this.outport & OUT_STORED) | live, false);
        return;
      }
      case CMD_A20_DISABLE: this.writeOutport(this.outport & ~OUT_A20); return;
      case CMD_A20_ENABLE: this.writeOutport(this.outport | OUT_A20); return;
      default: this.stats.unknownCommands++;
    }
  }

  private commandByteChanged(): void {
    const ctr = this.ram[0]!;
    this.sysFlag = (ctr & CTR_SYS) !== 0;
    this.keyboard.translate = (ctr & CTR_XLATE) !== 0;
  }

  private writeOutport(value: number): void {
    const old = this.outport;
    this.outport = value & OUT_STORED;
    if ((old ^ this.outport) & OUT_A20) this.onA20((this.outport & OUT_A20) !== 0);
    if (!(this.outport & OUT_RESET_N)) {
      this.outport |= OUT_RESET_N; // the reset brings the line back up
      this.requestReset();
    }
  }

  private requestReset(): void {
    this.stats.resets++;
    this.onReset();
  }

  private reply(byte: number, aux: boolean, timeout = false): void {
    if (this.replies.length >= QUEUE_LIMIT) {
      this.stats.droppedBytes++;
      return;
    }
    this.replies.push({ byte, aux, timeout });
  }

  private fromKeyboard(byte: number): void {
    if (this.kbdQueue.length >= QUEUE_LIMIT) {
      this.stats.droppedBytes++;
      return;
    }
    this.kbdQueue.push(byte);
  }

  /** Refill the output buffer (replies first; keyboard only while enabled) and drive IRQs. */
  private update(): void {
    if (!this.ob) {
      const reply = this.replies.shift();
      if (reply) this.ob = reply;
      else if (!(this.ram[0]! & CTR_KBDDIS) && this.kbdQueue.length > 0) {
        this.ob = { byte: this.kbdQueue.shift()!, aux: false, timeout: false };
      }
    }
    this.driveIrqs();
  }

  private driveIrqs(): void {
    const ctr = this.ram[0]!;
    const kbd = !!this.ob && !this.ob.aux && (ctr & CTR_KBDINT) !== 0;
    const aux = !!this.ob && this.ob.aux && (ctr & CTR_AUXINT) !== 0;
    if (kbd !== this.kbdLevel) {
      this.kbdLevel = kbd;
      if (kbd) this.stats.kbdInterrupts++;
      this.kbdIrq.set(kbd);
    }
    if (aux !== this.auxLevel) {
      this.auxLevel = aux;
      if (aux) this.stats.auxInterrupts++;
      this.auxIrq.set(aux);
    }
  }
}
