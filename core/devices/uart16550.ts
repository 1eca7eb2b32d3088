// 16550A UART (National/TI PC16550D datasheet). Guest port I/O lands in read()/write();
// bytes the guest transmits leave through onTransmit() at once (the host console is treated
// as infinitely fast, so THR/TX FIFO drain before the next guest access, as in QEMU).
// Host input enters via receive() into an unbounded-by-guest host queue that refills the
// 16-byte RX FIFO (or the single RBR in 16450 mode) whenever the guest makes room, so pasted
// input is never lost; OE is set only by real overruns (loopback TX into a full FIFO). The
// interrupt output follows the IIR priorities and drives the ISA IRQ line through OUT2.
import type { IoDevice } from '../bus/types.js';
import { NullIrqLine, type IrqLine } from '../irq/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';
import { NS_PER_SEC, type Clock, type Scheduler, type TimerHandle } from './time.js';

import * as R from './uart16550-regs.js';
import { UartRxBuffer } from './uart-rx-buffer.js';

export { UART_PORT_COUNT, UART_DEFAULT_BASE_BAUD } from './uart16550-regs.js';

export interface ModemInputs {
  cts: boolean;
  dsr: boolean;
  ri: boolean;
  dcd: boolean;
}

export interface Uart16550Options {
  name?: string;
  /** ISA IRQ line (level: high while an enabled interrupt is pending and OUT2 is set). */
  irq?: IrqLine;
  onTransmit?: (byte: number) => void;
  /** Clock + scheduler for the RX character timeout; without them it fires immediately. */
  clock?: Clock;
  scheduler?: Scheduler;
  baseBaud?: number;
  /** Bytes the host queue holds before dropping input (counted in stats.rxDropped). */
  hostQueueLimit?: number;
  /** PC wiring: OUT2 gates the IRQ onto the bus. false = raw INTR pin (non-PC boards). */
  out2GatesIrq?: boolean;
}

export interface UartStats {
  txBytes: number;
  rxBytes: number; // bytes moved into the guest-visible FIFO/RBR
  rxDropped: number; // host input dropped because the host queue was full
  overruns: number;
  interrupts: number; // rising edges driven on the IRQ line
  ignoredWrites: number; // writes to LSR/MSR (factory-test registers)
  badAccesses: number;
}

export class Uart16550 implements IoDevice {
  readonly name: string;
  readonly stats: UartStats = {
    txBytes: 0, rxBytes: 0, rxDropped: 0, overruns: 0, interrupts: 0, ignoredWrites: 0, badAccesses: 0,
  };

  private readonly irq: IrqLine;
  private readonly onTransmit: (byte: number) => void;
  private readonly clock: Clock | undefined;
  private readonly scheduler: Scheduler | undefined;
  private readonly baseBaud: number;
  private readonly out2GatesIrq: boolean;

  private divisor = 0;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private fcr = 0; // FIFO enable, DMA mode and trigger bits as last programmed
  private lsrErrors = 0; // OE/PE/FE/BI latched until LSR is read
  private iir = R.IIR_NO_INT;
  private thrIpending = false;
  private timeoutPending = false;
  private timeoutTimer: TimerHandle | null = null;
  private irqLevel = false;

  private readonly rx: UartRxBuffer;

  private hostModem: number = R.MSR_CTS | R.MSR_DSR | R.MSR_DCD;
  private msrLines = 0;
  private msrDeltas = 0;

  constructor(options: Uart16550Options = {}) {
    this.name = options.name ?? 'uart';
    this.irq = options.irq ?? NullIrqLine;
    this.onTransmit = options.onTransmit ?? (() => {});
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.baseBaud = options.baseBaud ?? R.UART_DEFAULT_BASE_BAUD;
    this.out2GatesIrq = options.out2GatesIrq ?? true;
    this.rx = new UartRxBuffer(options.hostQueueLimit ?? 1 << 20);
    this.reset();
  }

  /** Hardware reset (datasheet Table V): registers to defaults, FIFOs and host queue kept. */
  reset(): void {
    this.cancelTimeout();
    this.divisor = 0x0c; // 9600 baud, what a BIOS leaves; the datasheet leaves it undefined
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.fcr = 0;
    this.lsrErrors = 0;
    this.thrIpending = false;
    this.timeoutPending = false;
    this.rx.setFifoMode(false);
    this.rx.clear();
    this.msrLines = this.modemInputs();
    this.msrDeltas = 0;
    this.refillFromHost();
    this.updateIrq();
  }

  // ---- host side --------------------------------------------------------------------------

  /** Queue bytes typed or pasted on the host console. */
  receive(bytes: Uint8Array | readonly number[] | string): void {
    const data =
      typeof bytes === 'string' ? new TextEncoder().encode(bytes)
      : bytes instanceof Uint8Array ? bytes
      : Uint8Array.from(bytes, (b) => b & 0xff);
    this.stats.rxDropped += data.length - this.rx.enqueueHost(data);
    if (this.refillFromHost()) this.updateIrq();
  }

  /** Bytes waiting on the host side (not yet visible to the guest). */
  get hostQueueLength(): number {
    return this.rx.hostBytes;
  }

  /** Modem input pins seen when not in loopback (default: CTS, DSR, DCD asserted). */
  setModemInputs(inputs: ModemInputs): void {
    this.hostModem =
      (inputs.cts ? R.MSR_CTS : 0) | (inputs.dsr ? R.MSR_DSR : 0) | (inputs.ri ? R.MSR_RI : 0) | (inputs.dcd ? R.MSR_DCD : 0);
    this.updateModemLines();
  }

  /** Current level driven on the IRQ line. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  // ---- guest side -------------------------------------------------------------------------

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, R.UART_PORT_COUNT, (off) => this.readRegister(off));
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    if (!splitWrite(offset, size, value, R.UART_PORT_COUNT, (off, b) => this.writeRegister(off, b))) {
      this.stats.badAccesses++;
    }
  }

  private readRegister(reg: number): number {
    switch (reg) {
      case R.REG_DATA:
        return this.lcr & R.LCR_DLAB ? this.divisor & 0xff : this.readRbr();
      case R.REG_IER:
        return this.lcr & R.LCR_DLAB ? this.divisor >>> 8 : this.ier;
      case R.REG_IIR_FCR: {
        const value = this.iir | (this.fcr & R.FCR_FIFO_ENABLE ? R.IIR_FIFOS_ENABLED : 0);
        // Reading IIR while THRE is the reported source clears it (8.4, Table IV).
        if (this.iir === R.IIR_THRI) {
          this.thrIpending = false;
          this.updateIrq();
        }
        return value;
      }
      case R.REG_LCR:
        return this.lcr;
      case R.REG_MCR:
        return this.mcr;
      case R.REG_LSR: {
        const value = this.lsr();
        if (this.lsrErrors) {
          this.lsrErrors = 0; // OE/PE/FE/BI clear on read (8.2)
          this.updateIrq();
        }
        return value;
      }
      case R.REG_MSR: {
        const value = this.msrLines | this.msrDeltas;
        if (this.msrDeltas) {
          this.msrDeltas = 0; // deltas clear on read (8.8)
          this.updateIrq();
        }
        return value;
      }
      default:
        return this.scr;
    }
  }

  private writeRegister(reg: number, value: number): void {
    switch (reg) {
      case R.REG_DATA:
        if (this.lcr & R.LCR_DLAB) this.divisor = (this.divisor & 0xff00) | value;
        else this.writeThr(value);
        return;
      case R.REG_IER:
        if (this.lcr & R.LCR_DLAB) this.divisor = (this.divisor & 0x00ff) | (value << 8);
        else this.writeIer(value & R.IER_WRITABLE);
        return;
      case R.REG_IIR_FCR:
        this.writeFcr(value);
        return;
      case R.REG_LCR:
        this.lcr = value;
        return;
      case R.REG_MCR: {
        const wasLoop = (this.mcr & R.MCR_LOOP) !== 0;
        this.mcr = value & R.MCR_WRITABLE;
        // Leaving loopback reconnects the serial input: host bytes may flow again.
        if (wasLoop && !(this.mcr & R.MCR_LOOP)) this.refillFromHost();
        this.updateModemLines();
        return;
      }
      case R.REG_LSR:
      case R.REG_MSR:
        this.stats.ignoredWrites++; // factory-test registers; a real board ignores them
        return;
      default:
        this.scr = value;
    }
  }

  private lsr(): number {
    // TX drains instantly, so THRE and TEMT always read 1 from the guest's point of view.
    return (this.rx.count > 0 ? R.LSR_DR : 0) | this.lsrErrors | R.LSR_THRE | R.LSR_TEMT;
  }

  private readRbr(): number {
    const byte = this.rx.pop();
    if (byte === undefined) return 0; // empty RBR reads the stale latch; 0 like QEMU
    this.timeoutPending = false;
    this.refillFromHost();
    // Each read restarts the timeout while characters remain (8.4, Table IV note).
    if (this.fifoEnabled() && this.rx.count > 0) this.armTimeout();
    else if (this.rx.count === 0) this.cancelTimeout();
    this.updateIrq();
    return byte;
  }

  private writeThr(byte: number): void {
    // Writing THR clears a pending THRE interrupt; the byte then leaves at once and THR is
    // empty again, which raises THRE anew (QEMU serial_xmit does the same).
    this.thrIpending = false;
    this.updateIrq();
    if (this.mcr & R.MCR_LOOP) {
      this.pushRx(byte); // loopback: the serial output is wired to the serial input
    } else {
      this.stats.txBytes++;
      this.onTransmit(byte);
    }
    this.thrIpending = true;
    this.updateIrq();
  }

  private writeIer(value: number): void {
    const changed = this.ier ^ value;
    this.ier = value;
    // ETBEI 0->1 while THR is empty re-arms THRE even if an IIR read had cleared it; 1->0
    // drops it (not in the datasheet; QEMU and Bochs do this and Windows relies on it).
    if (changed & R.IER_ETBEI) this.thrIpending = (value & R.IER_ETBEI) !== 0;
    if (changed) this.updateIrq();
  }

  private writeFcr(value: number): void {
    const wasEnabled = this.fifoEnabled();
    const enable = (value & R.FCR_FIFO_ENABLE) !== 0;
    // Toggling FCR0 clears both FIFOs (8.3). When FCR0 is written 0 the other bits "will not
    // be programmed", so only the enable state changes.
    const resetRx = enable !== wasEnabled || (enable && (value & R.FCR_RX_RESET) !== 0);
    if (enable) this.fcr = value & (R.FCR_FIFO_ENABLE | R.FCR_DMA_MODE | (3 << R.FCR_TRIGGER_SHIFT));
    else this.fcr &= ~R.FCR_FIFO_ENABLE;
    // R.FCR_TX_RESET needs no action: the TX FIFO is always empty (instant transmit).
    this.rx.setFifoMode(enable);
    if (resetRx) {
      this.rx.clear();
      this.timeoutPending = false;
      this.cancelTimeout();
      this.refillFromHost();
    }
    this.updateIrq();
  }

  // ---- RX path ----------------------------------------------------------------------------

  private fifoEnabled(): boolean {
    return (this.fcr & R.FCR_FIFO_ENABLE) !== 0;
  }

  /** A character arriving on the serial input (loopback only): may overrun. */
  private pushRx(byte: number): void {
    if (this.rx.pushWire(byte)) {
      this.stats.rxBytes++;
    } else {
      this.lsrErrors |= R.LSR_OE;
      this.stats.overruns++;
    }
    if (this.fifoEnabled()) this.armTimeout();
  }

  /** Move host-queued bytes into free FIFO slots; loopback disconnects the serial input. */
  private refillFromHost(): boolean {
    if (this.mcr & R.MCR_LOOP) return false;
    const moved = this.rx.refill();
    this.stats.rxBytes += moved;
    if (moved > 0 && this.fifoEnabled()) this.armTimeout();
    return moved > 0;
  }

  /** One character time in ns from the divisor and LCR frame format. */
  private charTimeNs(): bigint {
    const dataBits = (this.lcr & R.LCR_WORD_LENGTH) + 5;
    const stopBits = this.lcr & R.LCR_STOP_BITS ? 2 : 1;
    const bits = 1 + dataBits + (this.lcr & R.LCR_PARITY_ENABLE ? 1 : 0) + stopBits;
    const divisor = this.divisor === 0 ? 0x10000 : this.divisor; // 0 = slowest clock
    return (BigInt(bits) * BigInt(divisor) * NS_PER_SEC) / BigInt(Math.max(1, this.baseBaud));
  }

  private armTimeout(): void {
    this.cancelTimeout();
    if (!this.clock || !this.scheduler) {
      this.timeoutPending = true; // no time source: degrade to an immediate timeout
      return;
    }
    const deadline = this.clock() + R.TIMEOUT_CHARS * this.charTimeNs();
    this.timeoutTimer = this.scheduler.schedule(deadline, () => {
      this.timeoutTimer = null;
      if (this.rx.count > 0 && this.fifoEnabled()) {
        this.timeoutPending = true;
        this.updateIrq();
      }
    });
  }

  private cancelTimeout(): void {
    this.timeoutTimer?.cancel();
    this.timeoutTimer = null;
  }

  // ---- modem lines and interrupts -----------------------------------------------------------

  private modemInputs(): number {
    if (!(this.mcr & R.MCR_LOOP)) return this.hostModem;
    // Loopback (8.7): DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
    return (
      (this.mcr & R.MCR_DTR ? R.MSR_DSR : 0) |
      (this.mcr & R.MCR_RTS ? R.MSR_CTS : 0) |
      (this.mcr & R.MCR_OUT1 ? R.MSR_RI : 0) |
      (this.mcr & R.MCR_OUT2 ? R.MSR_DCD : 0)
    );
  }

  private updateModemLines(): void {
    const next = this.modemInputs();
    const changed = this.msrLines ^ next;
    if (changed & R.MSR_CTS) this.msrDeltas |= R.MSR_DCTS;
    if (changed & R.MSR_DSR) this.msrDeltas |= R.MSR_DDSR;
    if (changed & R.MSR_DCD) this.msrDeltas |= R.MSR_DDCD;
    if (this.msrLines & R.MSR_RI && !(next & R.MSR_RI)) this.msrDeltas |= R.MSR_TERI; // trailing edge only
    this.msrLines = next;
    this.updateIrq();
  }

  /** Recompute IIR by priority (Table IV) and drive the IRQ line. */
  private updateIrq(): void {
    let iir = R.IIR_NO_INT;
    const triggerLevel = R.RX_TRIGGER_LEVELS[(this.fcr >>> R.FCR_TRIGGER_SHIFT) & 3]!;
    if (this.ier & R.IER_ELSI && this.lsrErrors & R.LSR_ERRORS) {
      iir = R.IIR_RLSI;
    } else if (this.ier & R.IER_ERBFI && this.timeoutPending && this.rx.count > 0) {
      iir = R.IIR_CTI; // gated by ERBFI like QEMU and real parts
    } else if (this.ier & R.IER_ERBFI && this.rx.count > 0 && (!this.fifoEnabled() || this.rx.count >= triggerLevel)) {
      iir = R.IIR_RDI;
    } else if (this.ier & R.IER_ETBEI && this.thrIpending) {
      iir = R.IIR_THRI;
    } else if (this.ier & R.IER_EDSSI && this.msrDeltas & R.MSR_DELTAS) {
      iir = R.IIR_MSI;
    }
    this.iir = iir;
    // The INTR pin reaches the ISA bus only through the OUT2-enabled buffer; in loopback
    // the OUT2 pin is forced inactive (8.7), so a PC sees no IRQ.
    const gateOpen = !this.out2GatesIrq || (this.mcr & (R.MCR_OUT2 | R.MCR_LOOP)) === R.MCR_OUT2;
    const level = iir !== R.IIR_NO_INT && gateOpen;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      if (level) this.stats.interrupts++;
      this.irq.set(level);
    }
  }
}
