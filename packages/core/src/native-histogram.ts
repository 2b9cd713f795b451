/**
 * Prometheus native histograms: sparse exponential buckets. At schema `s` the buckets grow by
 * `2^(2^-s)`, and bucket `i` holds the values in `(2^((i-1)·2^-s), 2^(i·2^-s)]`; values no larger than
 * the zero threshold go to the zero bucket. The same mathematics as OpenTelemetry's exponential
 * histogram (its scale is the schema; its bucket `i` is Prometheus's `i + 1`).
 *
 * The bucket of a value comes from its binary exponent and mantissa, read from the float's bits, and a
 * table of the 2^s boundaries within one power of two: no `Math.log` per observation (as client_golang).
 */

/** What one histogram's native buckets are configured with, resolved from the `nativeHistograms` option. */
export interface NativeSettings {
  /** The schema new series start at, from the bucket factor. */
  readonly schema: number;
  readonly maxBuckets: number;
  readonly zeroThreshold: number;
  /** Milliseconds after which a series over `maxBuckets` is reset instead of losing resolution; undefined: never. */
  readonly minResetInterval: number | undefined;
}

export const MIN_SCHEMA = -4;
export const MAX_SCHEMA = 8;

/** client_golang's default zero threshold, 2^-128: positive, so that Prometheus reads even an empty series as native. */
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;

/** The highest schema whose growth factor is at most `bucketFactor` (> 1), clamped to -4 … 8 (as client_golang). */
export function schemaForFactor(bucketFactor: number): number {
  const floor = Math.floor(Math.log2(Math.log2(bucketFactor)));
  return Math.min(MAX_SCHEMA, Math.max(MIN_SCHEMA, 0 - floor)); // 0 - floor: never -0
}

/**
 * Per positive schema, the boundaries `2^(j·2^-s - 1)` for j = 0 … 2^s - 1: the upper bounds of the
 * buckets within [0.5, 1), where a float's mantissa lies.
 */
const BOUNDARIES: readonly Float64Array[] = Array.from({ length: MAX_SCHEMA + 1 }, (_, schema) =>
  Float64Array.from({ length: 2 ** schema }, (_, j) => 2 ** (j / 2 ** schema - 1)),
);

/** One float and its two 32-bit words, to read and write its exponent without allocating. */
const scratch = new Float64Array(1);
const words = new Uint32Array(scratch.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const TWO_TO_64 = 2 ** 64;

/**
 * The bucket index of a positive finite `value` at `schema`. Splits the value as `frac · 2^exp` with
 * frac in [0.5, 1) (C's frexp), then finds frac's bucket within its power of two.
 */
export function bucketIndex(value: number, schema: number): number {
  scratch[0] = value;
  let high = words[HIGH] as number;
  let biased = (high >>> 20) & 0x7ff;
  let exp = biased - 1022;
  if (biased === 0) {
    // Subnormal: scaled into the normal range first.
    scratch[0] = value * TWO_TO_64;
    high = words[HIGH] as number;
    biased = (high >>> 20) & 0x7ff;
    exp = biased - 1022 - 64;
  }
  words[HIGH] = (high & 0x800fffff) | (1022 << 20);
  const frac = scratch[0] as number;
  if (schema > 0) {
    const bounds = BOUNDARIES[schema] as Float64Array;
    // The first boundary >= frac.
    let low = 0;
    let top = bounds.length;
    while (low < top) {
      const mid = (low + top) >>> 1;
      if ((bounds[mid] as number) < frac) low = mid + 1;
      else top = mid;
    }
    return low + (exp - 1) * bounds.length;
  }
  // A power of two (frac 0.5) is the upper bound of the bucket below.
  const key = frac === 0.5 ? exp - 1 : exp;
  return (key + (1 << -schema) - 1) >> -schema;
}

/**
 * The native buckets of one histogram series: the zero bucket, and the positive buckets as a dense
 * window of counts from bucket `first` on. The window grows only when a value falls outside it, so
 * recording allocates nothing once a series has seen its range of values.
 */
export class NativeBuckets {
  schema: number;
  zeroCount = 0;
  first = 0;
  counts: Float64Array = EMPTY;
  /** Buckets with a count above 0. */
  populated = 0;
  /** Times this series was reset: a part of its version (store.ts's `seriesVersion`). */
  resets = 0;
  /** When this series was created or last reset, in ms (only read with `minResetInterval`). */
  resetAt: number;

  constructor(readonly settings: NativeSettings) {
    this.schema = settings.schema;
    this.resetAt = settings.minResetInterval === undefined ? 0 : Date.now();
  }

  /**
   * Adds one observation. False when it put the series over `maxBuckets` and `minResetInterval` asks
   * for a reset: the caller resets the whole series (classic part, sum and count too) and records again.
   */
  observe(value: number): boolean {
    const threshold = this.settings.zeroThreshold;
    if (value <= threshold) {
      // Durations and sizes are never negative: there are no negative buckets.
      if (value >= -threshold) this.zeroCount += 1;
      return true;
    }
    // NaN and +Inf are in the sum and count only, as client_golang keeps NaN.
    if (!(value < Number.POSITIVE_INFINITY)) return true;
    let slot = bucketIndex(value, this.schema) - this.first;
    if (slot < 0 || slot >= this.counts.length) slot = this.makeRoom(value);
    const counts = this.counts;
    if ((counts[slot] as number) === 0) this.populated += 1;
    counts[slot] = (counts[slot] as number) + 1;
    if (this.populated > this.settings.maxBuckets) {
      const every = this.settings.minResetInterval;
      if (every !== undefined && Date.now() - this.resetAt >= every) return false;
      while (this.populated > this.settings.maxBuckets && this.schema > MIN_SCHEMA) this.halveResolution();
    }
    return true;
  }

  /**
   * Moves or grows the window to hold `value`'s bucket and returns its slot. When the buckets in use and
   * this one would span more than 4 × maxBuckets, resolution is halved instead, so a series' memory
   * stays bounded whatever it is fed.
   */
  private makeRoom(value: number): number {
    const limit = 4 * this.settings.maxBuckets;
    for (;;) {
      const slot = this.widen(bucketIndex(value, this.schema), limit);
      if (slot >= 0) return slot;
      this.halveResolution();
    }
  }

  /**
   * The slot of bucket `index`, the window moved or grown to hold it: -1 if the buckets in use and this one
   * would span more than `limit` (and resolution can still be halved).
   */
  private widen(index: number, limit: number): number {
    const counts = this.counts;
    const slot = index - this.first;
    if (slot >= 0 && slot < counts.length) return slot;
    if (this.populated === 0) {
      if (counts.length === 0) this.counts = new Float64Array(16);
      this.first = index - (this.counts.length >> 1);
      return index - this.first;
    }
    let lowest = 0;
    while ((counts[lowest] as number) === 0) lowest++;
    let highest = counts.length - 1;
    while ((counts[highest] as number) === 0) highest--;
    const low = Math.min(index, this.first + lowest);
    const span = Math.max(index, this.first + highest) - low + 1;
    if (span > limit && this.schema > MIN_SCHEMA) return -1;
    const length = Math.max(span, Math.min(2 * span, limit), counts.length);
    const first = low - ((length - span) >> 1);
    this.counts = new Float64Array(length);
    this.counts.set(counts.subarray(lowest, highest + 1), this.first + lowest - first);
    this.first = first;
    return index - first;
  }

  /**
   * Adds another histogram's buckets, as {@link toWire} gives them (a cluster worker's), at the coarser of
   * the two schemas: the finer one's buckets merged into the coarser's. Every bucket is kept (no maxBuckets).
   */
  add(buckets: readonly number[]): void {
    const schema = buckets[0] as number;
    const first = buckets[2] as number;
    if (this.populated === 0) this.schema = Math.min(schema, this.settings.schema);
    while (this.schema > schema) this.halveResolution();
    this.zeroCount += buckets[1] as number;
    const shift = schema - this.schema;
    for (let i = 3; i < buckets.length; i++) {
      const count = buckets[i] as number;
      if (count === 0) continue;
      // Bucket j at schema s lies in bucket ceil(j / 2^shift) at schema s - shift.
      const slot = this.widen(((first + i - 3 - 1) >> shift) + 1, Number.POSITIVE_INFINITY);
      if ((this.counts[slot] as number) === 0) this.populated += 1;
      this.counts[slot] = (this.counts[slot] as number) + count;
    }
  }

  /** Becomes a copy of `other`. */
  copyFrom(other: NativeBuckets): void {
    this.schema = other.schema;
    this.zeroCount = other.zeroCount;
    this.first = other.first;
    this.populated = other.populated;
    if (this.counts.length === other.counts.length) this.counts.set(other.counts);
    else this.counts = other.counts.slice();
  }

  /** The populated range of the window: `[schema, zeroCount, first bucket, ...counts]`, as a cluster worker sends it. */
  toWire(): number[] {
    const counts = this.counts;
    if (this.populated === 0) return [this.schema, this.zeroCount, 0];
    let lowest = 0;
    while ((counts[lowest] as number) === 0) lowest++;
    let highest = counts.length - 1;
    while ((counts[highest] as number) === 0) highest--;
    return [this.schema, this.zeroCount, this.first + lowest, ...counts.subarray(lowest, highest + 1)];
  }

  /** Schema minus one: buckets 2j-1 and 2j become bucket j. In place. */
  halveResolution(): void {
    const counts = this.counts;
    const first = (this.first + 1) >> 1;
    let populated = 0;
    for (let i = 0; i < counts.length; i++) {
      const count = counts[i] as number;
      if (count === 0) continue;
      counts[i] = 0;
      const slot = ((this.first + i + 1) >> 1) - first;
      if ((counts[slot] as number) === 0) populated += 1;
      counts[slot] = (counts[slot] as number) + count;
    }
    this.first = first;
    this.schema -= 1;
    this.populated = populated;
  }

  reset(): void {
    this.resets += 1;
    this.schema = this.settings.schema;
    this.zeroCount = 0;
    this.counts.fill(0);
    this.populated = 0;
    if (this.settings.minResetInterval !== undefined) this.resetAt = Date.now();
  }
}

const EMPTY = new Float64Array(0);
