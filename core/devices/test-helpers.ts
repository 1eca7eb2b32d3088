// Small fixtures shared by the device unit tests: an IrqLine that records every level it is
// driven to, so tests can assert exact edge sequences rather than just final states.
import type { IrqLine } from '../irq/types.js';

export class RecordingIrqLine implements IrqLine {
  readonly history: boolean[] = [];
  level = false;

  set(level: boolean): void {
    this.level = level;
    this.history.push(level);
  }

  /** Rising edges seen so far. */
  get risingEdges(): number {
    let edges = 0;
    let prev = false;
    for (const l of this.history) {
      if (l && !prev) edges++;
      prev = l;
    }
    return edges;
  }

  clear(): void {
    this.history.length = 0;
  }
}
