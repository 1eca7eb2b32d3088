// Live statistics per VM for the interrupt views. One onStats subscription feeds every VM a
// view has acquired; a VM joins mid-stream with statsSnapshot(id): messages that arrive
// while the reply is on its way are buffered, then applied only if newer than the snapshot
// (lib/stats-decode.ts drops older ones). The model itself is plain data (markRaw): at 2048
// vectors × 10 Hz, per-key reactivity would cost more than the rendering. Views watch a
// version counter instead, bumped at most once per animation frame. A 2048-vector VM's join
// snapshot (~20k keys) or the delta in which its storm starts (~10k new keys) takes tens of
// ms to apply, so messages are applied in order from a queue, SLICE_MS of work per task, and
// the page renders between slices.
import { defineStore } from 'pinia';
import { markRaw, shallowRef, type ShallowRef } from 'vue';
import type { StatsSnapshot, VmId } from '../../../core/api/contract.js';
import type { StatsMessage } from '../../../core/stats/stream.js';
import { StatsModel, type SnapshotLoad } from '../lib/stats-decode.js';
import { messageOf, vmm } from '../vmm.js';

/** Messages kept while the join snapshot is pending (10 Hz: several seconds' worth). */
const JOIN_BUFFER_MAX = 100;
/** Retry statsSnapshot() this often while it fails (VM still starting) and no stream snapshot came. */
const JOIN_RETRY_MS = 2000;
/** Main-thread time per slice of applying messages: well inside a frame's budget. */
const SLICE_MS = 8;

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
  /** Messages (and the join point) to apply, in order; `draining` while a slice is pending. */
  jobs: Job[];
  draining: boolean;
}

interface Job {
  /** Start applying (null: older than the model, dropped). */
  start(): SnapshotLoad | null;
  /** After the last slice. */
  done?(): void;
}

/** Let the page render and handle input between two slices of work. */
const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
/**
 * The end of a slice started now. A hidden page's timers run about once a second: slices
 * there would let the queue outgrow the stream, and there is no frame to keep smooth.
 */
const sliceEnd = () => (typeof document !== 'undefined' && document.visibilityState === 'hidden' ? Infinity : performance.now() + SLICE_MS);

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

  const messageJob = (e: Entry, msg: StatsMessage): Job => ({ start: () => e.vm.model.begin(msg) });

  function onMessage(id: VmId, msg: StatsMessage): void {
    const e = entries.get(id);
    if (!e) return;
    if (!e.joined) {
      // A stream snapshot is as good a join point as the reply we wait for.
      if (msg.kind === 'snapshot') finishJoin(e, messageJob(e, msg));
      else if (e.buffer.push(msg) > JOIN_BUFFER_MAX) e.buffer.shift();
      return;
    }
    enqueue(e, [messageJob(e, msg)]);
  }

  /** Apply the join point, then what was buffered while waiting for it (older messages drop out). */
  function finishJoin(e: Entry, joinPoint: Job): void {
    e.joined = true;
    clearTimeout(e.retry);
    const ready = (): void => {
      e.vm.ready.value = true;
      e.vm.error.value = null;
    };
    enqueue(e, [{ start: joinPoint.start, done: ready }, ...e.buffer.map((m) => messageJob(e, m))]);
    e.buffer = [];
  }

  function enqueue(e: Entry, jobs: Job[]): void {
    e.jobs.push(...jobs);
    if (!e.draining) void drain(e);
  }

  /** Run the queue, yielding to the page whenever a slice's time is up (synchronous if it never is). */
  async function drain(e: Entry): Promise<void> {
    e.draining = true;
    let deadline = sliceEnd();
    try {
      for (let job = e.jobs.shift(); job; job = e.jobs.shift()) {
        const load = job.start();
        while (load && !load.step(deadline)) {
          await yieldToPage();
          if (entries.get(e.vm.id) !== e) return;
          deadline = sliceEnd();
        }
        job.done?.();
        if (load) bump(e);
      }
    } finally {
      e.draining = false;
    }
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
    finishJoin(e, { start: () => e.vm.model.loadSnapshot(snap.stats, snap.counters, snap.rates) });
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
    e = { vm, refs: 1, joined: false, buffer: [], frame: false, jobs: [], draining: false };
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
