// Composables shared by the live interrupt views: the VM's live statistics from the stats
// store (acquired while the view is mounted), and polling of a table request while the view
// is mounted and the page is visible, one request at a time, with an immediate refresh
// after a user action.
import { onBeforeUnmount, onMounted, shallowRef, watch, type Ref, type ShallowRef } from 'vue';
import { useStatsStore, type VmStats } from '../../stores/stats.js';

export function useVmStats(vmId: () => string): ShallowRef<VmStats | null> {
  const store = useStatsStore();
  const vm = shallowRef<VmStats | null>(null);
  watch(
    vmId,
    (id, old) => {
      if (old) store.release(old);
      vm.value = id ? store.acquire(id) : null;
    },
    { immediate: true },
  );
  onBeforeUnmount(() => {
    if (vm.value) store.release(vm.value.id);
    vm.value = null;
  });
  return vm;
}

/** Re-render signal: the model's version (0 when there is no model yet). */
export function versionOf(vm: VmStats | null): number {
  return vm ? vm.version.value : 0;
}

/**
 * The model's version, passed on at most once per `intervalMs()` (the last change is never
 * lost). Tables use it: a table rewritten ten times a second costs layout time and cannot be
 * read anyway; kvm_stat refreshes every few seconds. Charts follow the stream at 10 Hz.
 */
export function useThrottledVersion(vm: () => VmStats | null, intervalMs: () => number): Readonly<Ref<number>> {
  const out = shallowRef(0);
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const emit = () => {
    timer = undefined;
    last = performance.now();
    out.value++;
  };
  let wasReady = false;
  watch(
    () => [versionOf(vm()), vm()] as const,
    () => {
      // The first data after joining is shown at once, not an interval later.
      const ready = vm()?.ready.value ?? false;
      const joined = ready && !wasReady;
      wasReady = ready;
      if (joined) {
        clearTimeout(timer);
        emit();
        return;
      }
      if (timer) return;
      const wait = last + intervalMs() - performance.now();
      if (wait <= 0) emit();
      else timer = setTimeout(emit, wait);
    },
    { immediate: true },
  );
  onBeforeUnmount(() => clearTimeout(timer));
  return out;
}

export interface Poller {
  /** Poll now (after the request in flight, if any). */
  refresh(): Promise<void>;
  /** Set while a request is running. */
  busy: Ref<boolean>;
}

/**
 * Call `fn` every `intervalMs()` while mounted. Hidden pages are not polled; the next
 * request starts only after the previous one settled, so a slow VM host is never flooded.
 */
export function usePoll(fn: () => Promise<void>, intervalMs: () => number): Poller {
  const busy = shallowRef(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;

  const hidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

  async function run(): Promise<void> {
    clearTimeout(timer);
    if (running) {
      again = true;
      return running;
    }
    busy.value = true;
    running = (async () => {
      try {
        do {
          again = false;
          await fn();
        } while (again && !stopped);
      } finally {
        running = null;
        busy.value = false;
        if (!stopped) timer = setTimeout(tick, intervalMs());
      }
    })();
    return running;
  }

  function tick(): void {
    if (stopped) return;
    if (hidden()) timer = setTimeout(tick, intervalMs());
    else void run();
  }

  onMounted(() => void run());
  onBeforeUnmount(() => {
    stopped = true;
    clearTimeout(timer);
  });
  return { refresh: run, busy };
}
