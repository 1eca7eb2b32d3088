// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { defineComponent, h, nextTick, shallowRef } from 'vue';
import { describe, expect, it } from 'vitest';
import { useVirtualRows, type VirtualRows } from './virtual-rows.js';

/** A scroll box with a layout happy-dom does not compute: its height and position set by hand. */
function mountRows(count: number, box: { clientHeight: number; scrollTop: number }) {
  const n = shallowRef(count);
  let rows!: VirtualRows;
  const w = mount(
    defineComponent({
      setup() {
        rows = useVirtualRows(() => n.value, 20);
        return () =>
          h('div', {
            ref: (el) => {
              if (el) {
                Object.defineProperty(el, 'clientHeight', { get: () => box.clientHeight });
                Object.defineProperty(el, 'scrollTop', { get: () => box.scrollTop });
              }
              rows.scroller.value = el as HTMLElement | null;
            },
          });
      },
    }),
  );
  return { w, n, rows: () => rows };
}

describe('useVirtualRows', () => {
  it('renders every row when the box has no layout (hidden, or no layout engine)', () => {
    const { w, rows } = mountRows(100, { clientHeight: 0, scrollTop: 0 });
    expect(rows().range.value).toEqual({ first: 0, end: 100, padTop: 0, padBottom: 0 });
    w.unmount();
  });

  it('renders the rows in view plus a margin, with spacers for the rest', async () => {
    const box = { clientHeight: 200, scrollTop: 0 };
    const { w, n, rows } = mountRows(100, box);
    const top = rows().range.value;
    expect(top.first).toBe(0);
    expect(top.end).toBeGreaterThanOrEqual(10);
    expect(top.end).toBeLessThan(40);
    expect(top.padTop).toBe(0);
    expect(top.padBottom).toBe((100 - top.end) * 20);

    box.scrollTop = 1000;
    rows().onScroll();
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const mid = rows().range.value;
    // Rows 50..59 are in view.
    expect(mid.first).toBeLessThanOrEqual(50);
    expect(mid.first).toBeGreaterThan(30);
    expect(mid.end).toBeGreaterThanOrEqual(60);
    expect(mid.padTop).toBe(mid.first * 20);
    expect(mid.padTop + (mid.end - mid.first) * 20 + mid.padBottom).toBe(100 * 20);

    n.value = 20;
    await nextTick();
    expect(rows().range.value.end).toBeLessThanOrEqual(20);
    expect(rows().range.value.padBottom).toBe(0);
    w.unmount();
  });
});
