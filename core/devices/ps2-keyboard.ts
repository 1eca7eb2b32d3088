// Minimal PS/2 keyboard behind the i8042: enough of the command protocol for OS probing
// (Linux atkbd: reset, get ID, set LEDs/typematic/scancode set, enable/disable scanning)
// so drivers see an answering keyboard instead of waiting for timeouts. Replies go to the
// controller through `send`; host key input can be injected with sendScancodes().
// Command codes: IBM PS/2 Keyboard Technical Reference, "Commands from the System".

const CMD_SET_LEDS = 0xed;
const CMD_ECHO = 0xee;
const CMD_SCANCODE_SET = 0xf0;
const CMD_GET_ID = 0xf2;
const CMD_SET_TYPEMATIC = 0xf3;
const CMD_ENABLE = 0xf4;
const CMD_DISABLE = 0xf5; // reset to defaults and stop scanning
const CMD_SET_DEFAULTS = 0xf6;
const CMD_RESEND = 0xfe;
const CMD_RESET = 0xff;

const REPLY_ACK = 0xfa;
const REPLY_BAT_OK = 0xaa; // basic assurance test passed
const REPLY_ECHO = 0xee;
const REPLY_RESEND = 0xfe;
const ID_BYTE_1 = 0xab;
const ID_BYTE_2 = 0x83; // MF2 keyboard
const ID_BYTE_2_TRANSLATED = 0x41; // what the 8042 passes on with translation on

export class Ps2Keyboard {
  /** Controller translation (8042 command byte bit 6) changes some replies. */
  translate = false;
  private scanning = true;
  private scancodeSet = 2;
  private pendingCommand: number | null = null;
  private lastSent = REPLY_ACK;

  constructor(private readonly send: (byte: number) => void) {}

  get scanningEnabled(): boolean {
    return this.scanning;
  }

  reset(): void {
    this.scanning = true;
    this.scancodeSet = 2;
    this.pendingCommand = null;
  }

  /** Host key input (already in the active scancode set); dropped while scanning is off. */
  sendScancodes(bytes: readonly number[]): boolean {
    if (!this.scanning) return false;
    for (const b of bytes) this.reply(b & 0xff);
    return true;
  }

  /** A byte the system sent to the keyboard. */
  write(byte: number): void {
    if (this.pendingCommand !== null) {
      const cmd = this.pendingCommand;
      this.pendingCommand = null;
      this.parameter(cmd, byte);
      return;
    }
    switch (byte) {
      case CMD_SET_LEDS:
      case CMD_SET_TYPEMATIC:
      case CMD_SCANCODE_SET:
        this.pendingCommand = byte;
        this.reply(REPLY_ACK);
        return;
      case CMD_ECHO:
        this.reply(REPLY_ECHO);
        return;
      case CMD_GET_ID:
        this.reply(REPLY_ACK);
        this.reply(ID_BYTE_1);
        this.reply(this.translate ? ID_BYTE_2_TRANSLATED : ID_BYTE_2);
        return;
      case CMD_ENABLE:
        this.scanning = true;
        this.reply(REPLY_ACK);
        return;
      case CMD_DISABLE:
        this.scanning = false;
        this.reply(REPLY_ACK);
        return;
      case CMD_SET_DEFAULTS:
        this.scancodeSet = 2;
        this.reply(REPLY_ACK);
        return;
      case CMD_RESEND:
        this.send(this.lastSent);
        return;
      case CMD_RESET:
        this.reset();
        this.reply(REPLY_ACK);
        this.reply(REPLY_BAT_OK);
        return;
      default:
        // 0xf7..0xfd (per-key typematic/make/break modes) are accepted; the rest is unknown.
        this.reply(byte >= 0xf7 && byte <= 0xfd ? REPLY_ACK : REPLY_RESEND);
    }
  }

  private parameter(cmd: number, byte: number): void {
    if (cmd === CMD_SCANCODE_SET) {
      if (byte === 0) {
        this.reply(REPLY_ACK);
        this.reply(this.scancodeSet);
        return;
      }
      if (byte >= 1 && byte <= 3) this.scancodeSet = byte;
    }
    // LED and typematic parameters are acknowledged and have no visible effect.
    this.reply(REPLY_ACK);
  }

  private reply(byte: number): void {
    this.lastSent = byte;
    this.send(byte);
  }
}
