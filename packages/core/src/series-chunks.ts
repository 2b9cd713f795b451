import { type HistogramSeries, seriesVersion, type ValueSeries } from './store.js';
import type { TurnBudget } from './turn-budget.js';

type Series = ValueSeries | HistogramSeries;

/** A chunk grows to at least this many bytes before the next series starts a new one. */
export const CHUNK_BYTES = 64 * 1024;
/** Series encoded between two looks at the clock. */
const SERIES_PER_CHECK = 32;

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
   * Every series' bytes, in the store's order, as a list of chunks. `encode` writes one series' bytes; the
   * budget is checked between chunks and while building one. Renderings may interleave: each checks every
   * chunk it takes against the series it is rendering, so at worst one rebuilds what another just built.
   */
  async render(
    stored: Iterable<Series>,
    key: string,
    encode: (series: Series, out: ChunkWriter) => void,
    turn: TurnBudget,
  ): Promise<Buffer[]> {
    const { chunks } = this;
    const series = Array.from(stored);
    const pieces: Buffer[] = [];
    let c = 0;
    for (let first = 0; first < series.length; c++) {
      let chunk = chunks[c];
      const last = c >= chunks.length - 1;
      if (chunk === undefined || !reusable(chunk, series, first, key, last)) {
        chunk = await build(chunk, last, series, first, key, encode, turn);
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

const cached = {
  text: new WeakMap<object, SeriesChunks>(),
  openmetrics: new WeakMap<object, SeriesChunks>(),
  protobuf: new WeakMap<object, SeriesChunks>(),
};

/** The chunks a store's output is kept in, in one format; made on first use. */
export function chunksOf(store: object, format: keyof typeof cached): SeriesChunks {
  let chunks = cached[format].get(store);
  if (chunks === undefined) {
    chunks = new SeriesChunks();
    cached[format].set(store, chunks);
  }
  return chunks;
}

/**
 * The chunk covers the series from `first` on, all unchanged, and if it is the last chunk and not full, no
 * new series follow it.
 */
function reusable(chunk: Chunk, series: readonly Series[], first: number, key: string, last: boolean): boolean {
  const count = chunk.series.length;
  if (chunk.key !== key || !sameSeries(chunk, series, first)) return false;
  if (last && chunk.bytes.length < CHUNK_BYTES && first + count < series.length) return false;
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
 * unchanged, then, if it was the last chunk and is not full, new series until it is. Other chunks keep
 * their series even if their text shrank below full: moving a boundary would leave every later chunk
 * misaligned, to be encoded anew.
 */
async function build(
  old: Chunk | undefined,
  last: boolean,
  series: readonly Series[],
  first: number,
  key: string,
  encode: (series: Series, out: ChunkWriter) => void,
  turn: TurnBudget,
): Promise<Chunk> {
  const kept = old !== undefined && old.key === key && sameSeries(old, series, first) ? old : undefined;
  const keptCount = kept?.series.length ?? 0;
  const limit = kept === undefined || last ? series.length - first : keptCount;
  const taken: Series[] = [];
  const versions: number[] = [];
  const ends: number[] = [];
  const assembly = new Assembly();
  // Consecutive unchanged series are copied from the old chunk in one piece.
  let runStart = 0;
  let runEnd = 0;
  let sinceCheck = 0;
  for (let i = 0; i < limit && (i < keptCount || assembly.length + runEnd - runStart < CHUNK_BYTES); i++) {
    const one = series[first + i] as Series;
    const version = seriesVersion(one);
    if (kept !== undefined && i < keptCount && kept.versions[i] === version) {
      const start = i === 0 ? 0 : (kept.ends[i - 1] as number);
      if (start !== runEnd) {
        assembly.copy(kept.bytes, runStart, runEnd);
        runStart = start;
      }
      runEnd = kept.ends[i] as number;
      ends.push(assembly.length + runEnd - runStart);
    } else {
      if (kept !== undefined) assembly.copy(kept.bytes, runStart, runEnd);
      runStart = runEnd;
      encode(one, assembly);
      ends.push(assembly.length);
      // A chunk of small series encoded at once held the loop for milliseconds: the budget is checked in it too.
      if (++sinceCheck === SERIES_PER_CHECK) {
        sinceCheck = 0;
        if (turn.spent()) await turn.nextTurn();
      }
    }
    taken.push(one);
    versions.push(version);
  }
  if (kept !== undefined) assembly.copy(kept.bytes, runStart, runEnd);
  const bytes = assembly.finish();
  return { key, series: taken, versions: Float64Array.from(versions), ends: Uint32Array.from(ends), bytes };
}

/** Scratch buffers chunks are assembled in, kept for the next builds (renderings may build at once). */
const spareScratch: Buffer[] = [];
const SPARE_SCRATCH = 4;

/** Where a series' bytes are written. */
export interface ChunkWriter {
  /** Bytes written so far: where the next ones go, for {@link ChunkWriter.again}. */
  readonly length: number;
  bytes(bytes: Uint8Array): void;
  /** Text known to be ASCII (`+Inf`, `1.5e-7`). */
  ascii(text: string): void;
  utf8(text: string): void;
  /** A non-negative safe integer in decimal, as `${count}` gives it, without making the string. */
  digits(count: number): void;
  /** The bytes from `start` to `end` again: a series' labels, written once, on each of its lines. */
  again(start: number, end: number): void;
}

/**
 * A chunk's bytes as they are added, in a reused scratch buffer: written out at once, encoded text does
 * not outlive a scavenge (kept as strings until a chunk's size was known, 10 MB of them were copied by one).
 */
class Assembly implements ChunkWriter {
  private scratch = spareScratch.pop() ?? Buffer.allocUnsafeSlow(2 * CHUNK_BYTES);
  length = 0;

  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.scratch.set(bytes, this.length);
    this.length += bytes.length;
  }

  ascii(text: string): void {
    this.room(text.length);
    this.length += this.scratch.write(text, this.length, 'latin1');
  }

  utf8(text: string): void {
    if (text === '') return;
    this.room(3 * text.length); // a UTF-16 unit takes at most 3 bytes
    this.length += this.scratch.write(text, this.length, 'utf8');
  }

  digits(count: number): void {
    this.room(16); // 2^53 has 16 digits
    let end = this.length + 1;
    for (let rest = count; rest >= 10; rest = Math.floor(rest / 10)) end++;
    const scratch = this.scratch;
    this.length = end;
    let rest = count;
    do {
      scratch[--end] = 48 + (rest % 10); // '0'
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  again(start: number, end: number): void {
    this.room(end - start);
    this.scratch.copyWithin(this.length, start, end);
    this.length += end - start;
  }

  copy(source: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.room(end - start);
    this.length += source.copy(this.scratch, this.length, start, end);
  }

  /** The bytes added, in a buffer of their own; the scratch goes back for the next build. */
  finish(): Buffer {
    const bytes = Buffer.allocUnsafeSlow(this.length);
    this.scratch.copy(bytes, 0, 0, this.length);
    if (spareScratch.length < SPARE_SCRATCH) spareScratch.push(this.scratch);
    return bytes;
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.scratch.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.scratch.length, this.length + bytes));
    this.scratch.copy(larger, 0, 0, this.length);
    this.scratch = larger;
  }
}
