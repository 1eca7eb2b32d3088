// Live statistics per VM for the interrupt views. One onStats subscription feeds every VM a
// view has acquired; a VM joins mid-stream with statsSnapshot(id): messages that arrive
// while the reply is on its way are buffered, then applied only if newer than the snapshot
// (lib/stats-decode.ts drops older ones). The model itself is plain data (markRaw): at 2048
// vectors × 10 Hz, per-key reactivity would cost more than the rendering. Views watch a
// version counter instead, bumped at most once per animation frame.
import { defineStore } from 'pinia';
import { markRaw, shallowRef, type ShallowRef } from 'vue';
import type { StatsSnapshot, VmId } from '../../../core/api/contract.js';
import type { StatsMessage } from '../../../core/stats/stream.js';
import { StatsModel } from '../lib/stats-decode.js';
import { messageOf, vmm } from '../vmm.js';

/** Messages kept while the join snapshot is pending (10 Hz: several seconds' worth). */
const JOIN_BUFFER_MAX = 100;
/** Retry statsSnapshot() this often while it fails (VM still starting) and no stream snapshot came. */
const JOIN_RETRY_MS = 2000;

export interface VmStats {
  readonly id: VmId;
  readonly model: StatsModel;
  /** Bumped (at most once per frame) after messages were applied. */
  readonly version: ShallowRef<number>;
  /** The model holds a full sample (snapshot applied). */
  readonly ready: ShallowRef<boolean>;
  /** Why the join failed (cleared once data flows). */
  readonly error: ShallowRef<string | null>;
}

interface Entry {
  vm: VmStats;
  refs: number;
  joined: boolean;
  buffer: StatsMessage[];
  retry?: ReturnType<typeof setTimeout>;
  frame: boolean;
}

/** Coalesce version bumps to one per animation frame where frames exist (not in unit tests). */
function schedule(cb: () => void): void {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(cb);
  else cb();
}

export const useStatsStore = defineStore('stats', () => {
  const entries = new Map<VmId, Entry>();
  let unsubscribe: (() => void) | null = null;

  function bump(e: Entry): void {
    if (e.frame) return;
    e.frame = true;
    schedule(() => {
      e.frame = false;
      e.vm.version.value++;
    });
  }

  function onMessage(id: VmId, msg: StatsMessage): void {
    const e = entries.get(id);
    if (!e) return;
    if (!e.joined) {
      // A stream snapshot is as good a join point as the reply we wait for.
      if (msg.kind === 'snapshot') finishJoin(e, () => e.vm.model.apply(msg));
      else if (e.buffer.push(msg) > JOIN_BUFFER_MAX) e.buffer.shift();
      return;
    }
    if (e.vm.model.apply(msg)) bump(e);
  }

  function finishJoin(e: Entry, applyJoinPoint: () => void): void {
    applyJoinPoint();
    e.joined = true;
    clearTimeout(e.retry);
    for (const m of e.buffer) e.vm.model.apply(m);
    e.buffer = [];
    e.vm.ready.value = true;
    e.vm.error.value = null;
    bump(e);
  }

  async function join(e: Entry): Promise<void> {
    let snap: StatsSnapshot;
    try {
      snap = await vmm().statsSnapshot(e.vm.id);
    } catch (err) {
      if (e.joined || entries.get(e.vm.id) !== e) return;
      e.vm.error.value = messageOf(err);
      e.retry = setTimeout(() => void join(e), JOIN_RETRY_MS);
      return;
    }
    if (e.joined || entries.get(e.vm.id) !== e) return;
    finishJoin(e, () => e.vm.model.applySnapshot(snap.stats, snap.counters, snap.rates));
  }

  /** Start (or share) the live statistics of a VM; pair with release(). */
  function acquire(id: VmId): VmStats {
    let e = entries.get(id);
    if (e) {
      e.refs++;
      return e.vm;
    }
    const vm: VmStats = markRaw({
      id,
      model: markRaw(new StatsModel()),
      version: shallowRef(0),
      ready: shallowRef(false),
      error: shallowRef<string | null>(null),
    });
    e = { vm, refs: 1, joined: false, buffer: [], frame: false };
    entries.set(id, e);
    try {
      unsubscribe ??= vmm().onStats((ev) => onMessage(ev.id, ev.msg));
    } catch (err) {
      vm.error.value = messageOf(err);
      return vm;
    }
    void join(e);
    return vm;
  }

  function release(id: VmId): void {
    const e = entries.get(id);
    if (!e || --e.refs > 0) return;
    clearTimeout(e.retry);
    entries.delete(id);
    if (entries.size === 0) {
      unsubscribe?.();
      unsubscribe = null;
    }
  }

  /** The live statistics of a VM some view has acquired, if any. */
  function get(id: VmId): VmStats | undefined {
    return entries.get(id)?.vm;
  }

  return { acquire, release, get };
});
