import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, type ChunkWriter, SeriesChunks } from '../src/series-chunks.js';
import { ValueStore } from '../src/store.js';
import { TurnBudget } from '../src/turn-budget.js';

/** A gauge of `count` series whose text is about 100 bytes each: several chunks. */
function gauge(count: number) {
  const store = new ValueStore('gauge', 'g', 'G.', ['route']);
  for (let i = 0; i < count; i++) store.seriesFor([`/route/${'x'.repeat(60)}/${i}`]).value = 1_000_000 + i;
  const chunks = new SeriesChunks();
  let encoded = 0;
  const render = () =>
    chunks.render(
      [...store.series.values()],
      'key',
      (series, out) => {
        encoded += 1;
        out.utf8(`\n${series.labels.route} ${(series as { value: number }).value}`);
      },
      new TurnBudget(),
    );
  const expected = () =>
    [...store.series.values()].map((s) => `\n${s.labels.route} ${(s as { value: number }).value}`).join('');
  return {
    store,
    render,
    expected,
    encodes: () => {
      const n = encoded;
      encoded = 0;
      return n;
    },
  };
}

const text = (pieces: Buffer[]) => Buffer.concat(pieces).toString('utf8');

describe('SeriesChunks: a store cached in chunks of consecutive series', () => {
  it('gives the same buffers again while nothing changed: no copy, nothing encoded', async () => {
    const g = gauge(3000);
    const first = await g.render();
    expect(first.length).toBeGreaterThan(3);
    expect(first.slice(0, -1).every((chunk) => chunk.length >= CHUNK_BYTES)).toBe(true);
    expect(g.encodes()).toBe(3000);
    const again = await g.render();
    expect(again.every((chunk, i) => chunk === first[i])).toBe(true);
    expect(g.encodes()).toBe(0);
    expect(text(again)).toBe(g.expected());
  });

  it('rebuilds only the chunk of a changed series, encoding that series alone', async () => {
    const g = gauge(3000);
    const first = await g.render();
    g.encodes();
    const series = [...g.store.series.values()][1500] as { value: number };
    series.value += 1;
    const second = await g.render();
    expect(g.encodes()).toBe(1);
    expect(second.filter((chunk, i) => chunk !== first[i]).length).toBe(1);
    expect(text(second)).toBe(g.expected());
  });

  it('keeps chunk boundaries when a series text shrinks, so the later chunks stay cached', async () => {
    const g = gauge(3000);
    const first = await g.render();
    g.encodes();
    // Shrink every series of the first chunk: it falls below CHUNK_BYTES and must not take the next one's series.
    for (const series of [...g.store.series.values()].slice(0, 200)) (series as { value: number }).value = 1;
    const second = await g.render();
    expect((second[0] as Buffer).length).toBeLessThan(CHUNK_BYTES);
    expect(second.slice(1).every((chunk, i) => chunk === first[i + 1])).toBe(true);
    expect(text(second)).toBe(g.expected());
  });

  it('fills the last chunk with new series before starting another; the full chunks stay cached', async () => {
    const g = gauge(1000); // two chunks, the last one short
    const first = await g.render();
    expect(first.length).toBe(2);
    expect((first[1] as Buffer).length).toBeLessThan(CHUNK_BYTES);
    g.encodes();
    for (let i = 0; i < 1000; i++) g.store.seriesFor([`/new/${'y'.repeat(60)}/${i}`]).value = i;
    const second = await g.render();
    expect(second.length).toBe(3);
    expect(second[0]).toBe(first[0]);
    expect((second[1] as Buffer).length).toBeGreaterThanOrEqual(CHUNK_BYTES);
    expect(g.encodes()).toBe(1000); // the old last chunk's series were copied, not encoded again
    expect(text(second)).toBe(g.expected());
  });

  it('encodes everything anew when the key changes (a reset, new default labels)', async () => {
    const g = gauge(1000);
    const store = g.store;
    const chunks = new SeriesChunks();
    const encode = (series: unknown, out: ChunkWriter) => out.ascii(`\n${(series as { value: number }).value}`);
    const first = await chunks.render([...store.series.values()], 'a', encode, new TurnBudget());
    const second = await chunks.render([...store.series.values()], 'b', encode, new TurnBudget());
    expect(second.some((chunk, i) => chunk === first[i])).toBe(false);
    expect(text(second)).toBe(text(first));
  });

  it('takes a series larger than a chunk, in a chunk of its own size', async () => {
    const store = new ValueStore('gauge', 'g', 'G.', ['route']);
    for (const route of ['/a', '/huge', '/b']) store.seriesFor([route]).value = 1;
    const encode = (series: unknown, out: ChunkWriter) => {
      const { route } = (series as { labels: { route: string } }).labels;
      if (route === '/huge') out.bytes(Buffer.from(`\n${'é'.repeat(300_000)}`));
      else out.utf8(`\n${route}`);
    };
    const pieces = await new SeriesChunks().render([...store.series.values()], 'k', encode, new TurnBudget());
    expect(text(pieces)).toBe(`\n/a\n${'é'.repeat(300_000)}\n/b`);
  });

  it('writes counts digit by digit as String() does, and copies earlier bytes of a series, across the scratch growing', async () => {
    const counts = [0, -0, 7, 10, 99, 100, 1_000_001, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
    const store = new ValueStore('gauge', 'g', 'G.', ['route']);
    for (const route of ['/a', '/b']) store.seriesFor([route]);
    const encode = (series: unknown, out: ChunkWriter) => {
      const { route } = (series as { labels: { route: string } }).labels;
      const start = out.length;
      out.utf8(`\n${route}{é} `);
      const end = out.length;
      for (const count of counts) {
        out.digits(count);
        out.again(start, end);
      }
      // 200,000 copies of the labels outgrow the scratch buffer a chunk starts in.
      for (let i = 0; i < 200_000; i++) out.again(start, end);
    };
    const pieces = await new SeriesChunks().render([...store.series.values()], 'k', encode, new TurnBudget());
    const one = (route: string) => {
      const labels = `\n${route}{é} `;
      return labels + counts.map((count) => `${count}${labels}`).join('') + labels.repeat(200_000);
    };
    expect(text(pieces)).toBe(one('/a') + one('/b'));
  });
});
