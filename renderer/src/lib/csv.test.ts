// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { countersCsv, csvField, csvFileName, downloadCsv, seriesCsv, toCsv } from './csv.js';

describe('csv', () => {
  it('quotes fields with separators, quotes, line breaks and edge blanks', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField(-3)).toBe('-3');
    expect(csvField(NaN)).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField(true)).toBe('true');
  });

  it('defuses text a spreadsheet would evaluate', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField('-1+2')).toBe("'-1+2");
  });

  it('builds CRLF documents', () => {
    expect(toCsv(['a', 'b'], [[1, 'x,y'], [null, 2]])).toBe('a,b\r\n1,"x,y"\r\n,2\r\n');
  });

  it('exports counters with rates, sorted by key', () => {
    const text = countersCsv(new Map([['vcpu0.exits', 10], ['pci.lab0.v1.total', 7]]), new Map([['pci.lab0.v1.total', 2.5]]));
    expect(text).toBe('key,value,rate_per_s\r\npci.lab0.v1.total,7,2.5\r\nvcpu0.exits,10,0\r\n');
  });

  it('adds counts since the reset when there is a baseline', () => {
    const text = countersCsv(new Map([['a', 10], ['b', 3]]), new Map(), new Map([['a', 4], ['b', 5]]));
    expect(text).toBe('key,value,rate_per_s,since_reset\r\na,10,0,6\r\nb,3,0,3\r\n');
  });

  it('exports series with ISO times and empty cells for gaps', () => {
    const text = seriesCsv([1.5, 2], [{ name: 'lab0, interrupts/s', values: [null, 4] }]);
    expect(text).toBe('time,t_ms,"lab0, interrupts/s"\r\n1970-01-01T00:00:01.500Z,1500,\r\n1970-01-01T00:00:02.000Z,2000,4\r\n');
  });

  it('names files safely', () => {
    expect(csvFileName('vm/1 x', 'counters', new Date(Date.UTC(2026, 10, 21, 18, 27, 0, 123)))).toBe('irqbench-vm_1_x-counters-20261121T182700Z.csv');
  });

  it('downloads through a Blob URL and an <a download>', async () => {
    const create = vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:fake');
    let clicked: HTMLAnchorElement | null = null;
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked = this;
    });
    downloadCsv('x.csv', 'a\r\n');
    const blob = create.mock.calls[0]![0] as Blob;
    expect(await blob.text()).toBe('a\r\n');
    expect(clicked!.download).toBe('x.csv');
    expect(clicked!.getAttribute('href')).toBe('blob:fake');
    expect(document.querySelector('a[download]')).toBeNull();
    click.mockRestore();
    create.mockRestore();
  });
});
