import { type HistogramSeries, seriesVersion, type ValueSeries } from './store.js';
import type { TurnBudget } from './turn-budget.js';

type Series = ValueSeries | HistogramSeries;

/** A chunk grows to at least this many bytes before the next series starts a new one. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * Consecutive series' encoded bytes, in one buffer. Never modified once built: a rendering, and every
 * response streaming it, refers to it.
 */
interface Chunk {
  /** What else the bytes depend on (names, default labels, the store's generation). */
  readonly key: string;
  readonly series: readonly Series[];
  readonly versions: Float64Array;
  /** Where each series' bytes end in `bytes`. */
  readonly ends: Uint32Array;
  readonly bytes: Buffer;
}

/**
 * One store's output in one format, kept between scrapes as chunks of about {@link CHUNK_BYTES}, each the
 * bytes of consecutive series. Most series of a large app are idle between two scrapes, so most chunks are
 * reused as they are and a scrape is mostly writing them out: no per-scrape copy and no garbage. Chunks,
 * not one buffer per series: 12,000 small buffers cost more in objects than their text, and the 64 KiB
 * blocks a response was packed into (a fresh 10 MB per scrape) left the allocator's heap fragmented, RSS
 * some 25 MB above the live bytes. A chunk with a changed series is built anew, copying its unchanged
 * series' bytes from the old one.
 */
export class SeriesChunks {
  private readonly chunks: Chunk[] = [];

  /**
   * Every series' bytes, in the store's order, as a list of chunks. `encode` gives one series' bytes; the
   * budget is checked between chunks. Renderings may interleave: each checks every chunk it takes against
   * the series it is rendering, so at worst one rebuilds what another just built.
   */
  async render(
    series: readonly Series[],
    key: string,
    encode: (series: Series) => string | Buffer,
    turn: TurnBudget,
  ): Promise<Buffer[]> {
    const { chunks } = this;
    const pieces: Buffer[] = [];
    let c = 0;
    for (let first = 0; first < series.length; c++) {
      let chunk = chunks[c];
      if (chunk === undefined || !reusable(chunk, series, first, key)) {
        chunk = build(chunk, series, first, key, encode);
        chunks[c] = chunk;
      }
      pieces.push(chunk.bytes);
      first += chunk.series.length;
      if (turn.spent()) await turn.nextTurn();
    }
    chunks.length = c;
    return pieces;
  }
}

/** The chunk covers the series from `first` on, all unchanged, and is full unless no series follow it. */
function reusable(chunk: Chunk, series: readonly Series[], first: number, key: string): boolean {
  const count = chunk.series.length;
  if (chunk.key !== key || !sameSeries(chunk, series, first)) return false;
  if (chunk.bytes.length < CHUNK_BYTES && first + count < series.length) return false;
  for (let i = 0; i < count; i++) if (seriesVersion(series[first + i] as Series) !== chunk.versions[i]) return false;
  return true;
}

function sameSeries(chunk: Chunk, series: readonly Series[], first: number): boolean {
  const count = chunk.series.length;
  if (first + count > series.length) return false;
  for (let i = 0; i < count; i++) if (series[first + i] !== chunk.series[i]) return false;
  return true;
}

/**
 * The chunk of the series from `first` on: the old chunk's series, with their bytes copied where they are
 * unchanged (chunk boundaries stay where they were, so the chunks after it stay reusable), then, if it is
 * not full, more series until it is.
 */
function build(
  old: Chunk | undefined,
  series: readonly Series[],
  first: number,
  key: string,
  encode: (series: Series) => string | Buffer,
): Chunk {
  const kept = old !== undefined && old.key === key && sameSeries(old, series, first) ? old : undefined;
  const keptCount = kept?.series.length ?? 0;
  const taken: Series[] = [];
  const versions: number[] = [];
  const ends: number[] = [];
  const parts: (string | Buffer)[] = [];
  let bytes = 0;
  // Consecutive unchanged series are copied from the old chunk in one piece.
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; first + i < series.length && (i < keptCount || bytes < CHUNK_BYTES); i++) {
    const one = series[first + i] as Series;
    const version = seriesVersion(one);
    if (kept !== undefined && i < keptCount && kept.versions[i] === version) {
      const start = i === 0 ? 0 : (kept.ends[i - 1] as number);
      if (start !== runEnd) {
        if (runEnd > runStart) parts.push(kept.bytes.subarray(runStart, runEnd));
        runStart = start;
      }
      runEnd = kept.ends[i] as number;
      bytes += runEnd - start;
    } else {
      if (runEnd > runStart) parts.push((kept as Chunk).bytes.subarray(runStart, runEnd));
      runStart = runEnd;
      const encoded = encode(one);
      parts.push(encoded);
      bytes += typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length;
    }
    taken.push(one);
    versions.push(version);
    ends.push(bytes);
  }
  if (runEnd > runStart) parts.push((kept as Chunk).bytes.subarray(runStart, runEnd));
  const target = Buffer.allocUnsafeSlow(bytes);
  let offset = 0;
  for (const part of parts) offset += typeof part === 'string' ? target.write(part, offset) : part.copy(target, offset);
  return { key, series: taken, versions: Float64Array.from(versions), ends: Uint32Array.from(ends), bytes: target };
}
