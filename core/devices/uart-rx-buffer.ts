// Receive-side buffering of the 16550 model: the guest-visible RX FIFO (16 bytes, or the
// single RBR in 16450 mode) plus the host-side queue behind it. Host console input waits in
// the queue and moves into the FIFO only when the guest has made room, so typed or pasted
// input is never overrun; only characters arriving "on the wire" (loopback) can overrun.

export const UART_FIFO_SIZE = 16;

export class UartRxBuffer {
  private readonly fifo = new Uint8Array(UART_FIFO_SIZE);
  private head = 0;
  private used = 0;
  private capacity = 1;
  private readonly chunks: Uint8Array[] = [];
  private chunkOffset = 0;
  private queued = 0;

  constructor(private readonly hostLimit: number) {}

  /** Bytes the guest can read now. */
  get count(): number {
    return this.used;
  }

  /** Bytes waiting on the host side. */
  get hostBytes(): number {
    return this.queued;
  }

  /** 16 in FIFO mode, 1 (RBR) in 16450 mode. Callers clear() when switching (FCR0 toggle). */
  setFifoMode(enabled: boolean): void {
    this.capacity = enabled ? UART_FIFO_SIZE : 1;
  }

  /** Empty the guest-visible FIFO (FCR RX reset); the host queue is not the UART's. */
  clear(): void {
    this.head = 0;
    this.used = 0;
  }

  /** Queue host input; returns how many bytes were accepted (the rest exceed the limit). */
  enqueueHost(data: Uint8Array): number {
    const accepted = Math.max(0, Math.min(data.length, this.hostLimit - this.queued));
    if (accepted > 0) {
      this.chunks.push(data.slice(0, accepted));
      this.queued += accepted;
    }
    return accepted;
  }

  /** Move host bytes into free FIFO slots; returns how many moved. */
  refill(): number {
    let moved = 0;
    while (this.used < this.capacity && this.queued > 0) {
      const chunk = this.chunks[0]!;
      this.fifo[(this.head + this.used) % UART_FIFO_SIZE] = chunk[this.chunkOffset]!;
      this.used++;
      this.queued--;
      moved++;
      if (++this.chunkOffset >= chunk.length) {
        this.chunks.shift();
        this.chunkOffset = 0;
      }
    }
    return moved;
  }

  /** Oldest received byte, or undefined when empty. */
  pop(): number | undefined {
    if (this.used === 0) return undefined;
    const byte = this.fifo[this.head]!;
    this.head = (this.head + 1) % UART_FIFO_SIZE;
    this.used--;
    return byte;
  }

  /**
   * A character completed by the receiver shift register. Returns false on overrun: in FIFO
   * mode the new character is lost, in 16450 mode it overwrites RBR (datasheet 8.2, OE).
   */
  pushWire(byte: number): boolean {
    if (this.used < this.capacity) {
      this.fifo[(this.head + this.used) % UART_FIFO_SIZE] = byte;
      this.used++;
      return true;
    }
    if (this.capacity === 1) this.fifo[this.head] = byte;
    return false;
  }
}
