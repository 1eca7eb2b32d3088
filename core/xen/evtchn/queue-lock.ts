// A mutex in one Int32 word of a SharedArrayBuffer, usable from any thread (the FIFO
// per-(vCPU, priority) queue locks, fifo.ts). States: 0 free, 1 locked, 2 locked with
// possible waiters (Drepper, "Futexes are tricky", mutex #2). Acquire spins briefly with
// Atomics.compareExchange, then sleeps in Atomics.wait; release wakes one sleeper.
//
// Rules for users: critical sections are short and never block or call out (no upcall
// injection, no hypercall handling, no host-thread round trip while holding a lock);
// when two locks are needed, take them in ascending word-index order.

/** Spins before sleeping: queue critical sections are a handful of Atomics operations. */
export const LOCK_SPINS = 64;

export function lockWord(w: Int32Array, idx: number): void {
  let c = Atomics.compareExchange(w, idx, 0, 1);
  if (c === 0) return;
  for (let i = 0; i < LOCK_SPINS; i++) {
    c = Atomics.compareExchange(w, idx, 0, 1);
    if (c === 0) return;
  }
  if (c !== 2) c = Atomics.exchange(w, idx, 2);
  while (c !== 0) {
    Atomics.wait(w, idx, 2);
    c = Atomics.exchange(w, idx, 2);
  }
}

export function unlockWord(w: Int32Array, idx: number): void {
  if (Atomics.sub(w, idx, 1) !== 1) {
    Atomics.store(w, idx, 0);
    Atomics.notify(w, idx, 1);
  }
}

/** Lock one or two words in ascending index order (a == b locks once). */
export function lockPair(w: Int32Array, a: number, b: number): void {
  if (a === b) lockWord(w, a);
  else if (a < b) {
    lockWord(w, a);
    lockWord(w, b);
  } else {
    lockWord(w, b);
    lockWord(w, a);
  }
}

export function unlockPair(w: Int32Array, a: number, b: number): void {
  unlockWord(w, a);
  if (a !== b) unlockWord(w, b);
}
