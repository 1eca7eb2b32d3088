// Windowed rendering of a long live table inside its scroll box: only the rows in view, plus a
// margin, are rendered, between two spacer rows that keep the box's scroll height. A page of
// 64 to 256 MSI-X entries refreshed four times a second otherwise costs layout and paint for
// every row, most of them out of view. Rows are taken to be of equal height (measured from a
// rendered row). Without layout (unit tests, a box not shown yet) every row is rendered.
import { computed, nextTick, onBeforeUnmount, onMounted, shallowRef, watch, type ComputedRef, type ShallowRef } from 'vue';

/** Rows rendered above and below the visible ones (scrolling shows no gap before the next frame). */
const OVERSCAN = 6;

export interface RowWindow {
  /** Index of the first rendered row and one past the last. */
  first: number;
  end: number;
  /** Heights (px) of the spacers standing in for the rows before and after. */
  padTop: number;
  padBottom: number;
}

export interface VirtualRows {
  /** Bind to the scroll box: ref="scroller". */
  scroller: ShallowRef<HTMLElement | null>;
  range: ComputedRef<RowWindow>;
  /** Bind to the scroll box's scroll event. */
  onScroll(): void;
}

/** `count()` rows of about `rowHeight` px each (a first guess until one is measured). */
export function useVirtualRows(count: () => number, rowHeight: number): VirtualRows {
  const scroller = shallowRef<HTMLElement | null>(null);
  const top = shallowRef(0);
  const viewport = shallowRef(0);
  const head = shallowRef(0);
  const height = shallowRef(rowHeight);
  let frame = 0;
  let resize: ResizeObserver | undefined;

  function measure(): void {
    frame = 0;
    const el = scroller.value;
    if (!el) return;
    top.value = el.scrollTop;
    viewport.value = el.clientHeight;
    head.value = el.querySelector('thead')?.offsetHeight ?? 0;
    const row = el.querySelector<HTMLElement>('tbody tr:not(.spacer)');
    if (row && row.offsetHeight > 0) height.value = row.offsetHeight;
  }

  function onScroll(): void {
    // At most one measurement per frame, however many scroll events arrive.
    if (!frame) frame = requestAnimationFrame(measure);
  }

  onMounted(() => {
    measure();
    if (typeof ResizeObserver === 'function' && scroller.value) {
      resize = new ResizeObserver(() => measure());
      resize.observe(scroller.value);
    }
  });
  // A row is measured once rows exist (the first data arrives after mounting).
  watch(
    () => count() > 0,
    (has) => {
      if (has) void nextTick(measure);
    },
  );
  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame);
    resize?.disconnect();
  });

  const range = computed<RowWindow>(() => {
    const n = count();
    if (viewport.value <= 0) return { first: 0, end: n, padTop: 0, padBottom: 0 };
    const h = height.value;
    const first = Math.min(n, Math.max(0, Math.floor((top.value - head.value) / h) - OVERSCAN));
    const end = Math.min(n, first + Math.ceil(viewport.value / h) + 2 * OVERSCAN);
    return { first, end, padTop: first * h, padBottom: (n - end) * h };
  });

  return { scroller, range, onScroll };
}
