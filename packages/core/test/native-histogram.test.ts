import fc from 'fast-check';
import { type Metric, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type RoutemeterOptions, renderMetrics } from '../src/index.js';
import { requestMetrics } from '../src/metrics.js';
import {
  bucketIndex,
  DEFAULT_ZERO_THRESHOLD,
  MAX_SCHEMA,
  MIN_SCHEMA,
  NativeBuckets,
  type NativeSettings,
} from '../src/native-histogram.js';
import { resolveOptions } from '../src/options.js';
import { renderProtobufPieces } from '../src/protobuf.js';
import { HistogramStore, observe } from '../src/store.js';

/** The straightforward definition: bucket i at schema s holds (2^((i-1)/2^s), 2^(i/2^s)]. */
function referenceIndex(value: number, schema: number): number {
  return Math.ceil(Math.log2(value) * 2 ** schema) + 0; // + 0: never -0
}

/** The upper bound of bucket `index` at `schema`, straight from the definition. */
function bucketUpperBound(index: number, schema: number): number {
  return 2 ** (index * 2 ** -schema);
}

/** The neighbouring doubles of a positive double. */
function nextUp(value: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}
function nextDown(value: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}

const schemas = fc.integer({ min: MIN_SCHEMA, max: MAX_SCHEMA });
/** Every positive finite double, subnormals and the largest included. */
const positive = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true });

describe('bucketIndex: the bucket of a value from its exponent and mantissa', () => {
  it('agrees with ceil(log2(v) · 2^s) away from bucket boundaries, every schema, subnormals and huge values', () => {
    fc.assert(
      fc.property(positive, schemas, (value, schema) => {
        const index = bucketIndex(value, schema);
        const exact = Math.log2(value) * 2 ** schema;
        // Within rounding of a boundary, log2 cannot tell the two buckets apart: the bounds decide (next test).
        if (Math.abs(exact - Math.round(exact)) > 1e-6 * Math.max(1, Math.abs(exact))) {
          expect(index).toBe(referenceIndex(value, schema));
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it('puts every value within its bucket’s bounds (to rounding of the bounds themselves)', () => {
    const slack = 2 ** -48;
    // Normal values: bounds between subnormals are not representable closely enough to check against.
    const normal = fc.double({ min: 2 ** -1021, max: Number.MAX_VALUE, noNaN: true });
    fc.assert(
      fc.property(normal, schemas, (value, schema) => {
        const index = bucketIndex(value, schema);
        const upper = bucketUpperBound(index, schema);
        const lower = bucketUpperBound(index - 1, schema);
        // 2^(i/2^s) overflows to Infinity for the top bucket and underflows to 0 below the subnormals.
        expect(value <= upper * (1 + slack) || upper === Number.POSITIVE_INFINITY).toBe(true);
        expect(value > lower * (1 - slack)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('puts a power of two exactly at the top of its bucket, at every schema', () => {
    for (let schema = MIN_SCHEMA; schema <= MAX_SCHEMA; schema++) {
      for (const exponent of [-1074, -1022, -128, -20, -1, 0, 1, 7, 52, 1023]) {
        const value = 2 ** exponent;
        const top = (schema >= 0 ? exponent * 2 ** schema : Math.ceil(exponent / 2 ** -schema)) + 0;
        expect(bucketIndex(value, schema), `2^${exponent} at schema ${schema}`).toBe(top);
        if (exponent > -1074) expect(bucketIndex(nextDown(value), schema)).toBe(top);
        // Just above a power of two is the next bucket whenever that power is a bucket bound.
        if (exponent > -1074 && (schema >= 0 || exponent % 2 ** -schema === 0))
          expect(bucketIndex(nextUp(value), schema)).toBe(top + 1);
      }
    }
  });

  it('keeps each bucket bound in its bucket and the next double in the next one (schemas 1 … 8)', () => {
    for (let schema = 1; schema <= MAX_SCHEMA; schema++) {
      for (let index = -3 * 2 ** schema; index <= 3 * 2 ** schema; index++) {
        // A bound as the table holds it: its mantissa part times a power of two.
        const bound = bucketUpperBound(index, schema);
        const found = bucketIndex(bound, schema);
        // Math.pow may round a bound 1 ulp off the table's: then it lies in a neighbour; never further.
        expect(Math.abs(found - index)).toBeLessThanOrEqual(1);
        expect(bucketIndex(nextUp(bound), schema)).toBeGreaterThanOrEqual(found);
        expect(bucketIndex(nextUp(nextUp(bound)), schema)).toBe(index + 1);
      }
    }
  });

  it.each([
    [1, 3, 0],
    [1.0905077326652577, 3, 1], // 2^(1/8): the top of bucket 1
    [0.5, 3, -8],
    [3, 0, 2],
    [3, -1, 1],
    [1024, -4, 1],
    [1025, -4, 1],
    [65537, -4, 2],
    [Number.MIN_VALUE, 0, -1074],
    [Number.MIN_VALUE, 8, -1074 * 256],
    [Number.MAX_VALUE, 8, 1024 * 256],
    [Number.MAX_VALUE, -4, 64],
  ])('puts %d at schema %d in bucket %d', (value, schema, index) => {
    expect(bucketIndex(value, schema)).toBe(index);
  });
});

function settings(overrides: Partial<NativeSettings> = {}): NativeSettings {
  return {
    schema: 3,
    maxBuckets: 160,
    zeroThreshold: DEFAULT_ZERO_THRESHOLD,
    minResetInterval: undefined,
    ...overrides,
  };
}

/** Bucket index → count, from a NativeBuckets' window. */
function bucketsOf(native: NativeBuckets): Map<number, number> {
  const buckets = new Map<number, number>();
  native.counts.forEach((count, slot) => {
    if (count > 0) buckets.set(native.first + slot, count);
  });
  return buckets;
}

describe('NativeBuckets: sparse buckets, zero bucket, resolution halved past maxBuckets', () => {
  afterEach(() => vi.restoreAllMocks());

  it('counts values in their buckets and values up to the zero threshold in the zero bucket', () => {
    const native = new NativeBuckets(settings({ zeroThreshold: 0.001 }));
    for (const value of [0, 0.0005, 0.001, 1, 1, 1.05, 2, 0.5]) native.observe(value);
    expect(native.zeroCount).toBe(3);
    expect(bucketsOf(native)).toEqual(
      new Map([
        [-8, 1],
        [0, 2],
        [1, 1],
        [8, 1],
      ]),
    );
    expect(native.populated).toBe(4);
  });

  it('ends with the buckets that observing every value at its final schema gives, and at most maxBuckets of them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-9, max: 1e6, noNaN: true }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: -2, max: MAX_SCHEMA }),
        (values, maxBuckets, schema) => {
          const native = new NativeBuckets(settings({ schema, maxBuckets }));
          for (const value of values) native.observe(value);
          const expected = new Map<number, number>();
          for (const value of values) {
            const index = bucketIndex(value, native.schema);
            expected.set(index, (expected.get(index) ?? 0) + 1);
          }
          expect(bucketsOf(native)).toEqual(expected);
          expect(native.populated).toBe(expected.size);
          expect(native.populated <= maxBuckets || native.schema === MIN_SCHEMA).toBe(true);
          expect(native.counts.length).toBeLessThanOrEqual(Math.max(16, 4 * maxBuckets));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('halves resolution one schema at a time: 8 buckets at schema 3 in one power of two become 1 at schema 0', () => {
    const native = new NativeBuckets(settings({ maxBuckets: 1 }));
    for (let j = 1; j <= 8; j++) native.observe(2 ** (j / 8) * 0.999);
    expect(native.schema).toBe(0);
    expect(bucketsOf(native)).toEqual(new Map([[1, 8]]));
  });

  it('with minResetInterval, resets a series over maxBuckets once the interval has passed, classic part too', () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const store = new HistogramStore('h', 'H.', [], [1], settings({ maxBuckets: 2, minResetInterval: 60_000 }));
    const series = store.seriesFor([]);
    for (const value of [0.1, 0.2, 0.4]) observe(series, value);
    // Not due yet: resolution halved instead, down to schema -1, where 0.1 and 0.2 share a bucket.
    expect(series.native).toMatchObject({ schema: -1, populated: 2 });
    expect(series.count).toBe(3);
    now += 60_000;
    observe(series, 1000);
    // Due: the series started again from the observation that put it over the limit.
    expect(series.native).toMatchObject({ schema: 3, populated: 1, zeroCount: 0 });
    expect(bucketsOf(series.native as NativeBuckets)).toEqual(new Map([[bucketIndex(1000, 3), 1]]));
    expect({ count: series.count, sum: series.sum, counts: [...series.counts] }).toEqual({
      count: 1,
      sum: 1000,
      counts: [0, 1],
    });
  });

  it('renders a series reset by minResetInterval anew, even when its count comes back to what was rendered', async () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const registry = new Registry();
    const store = new HistogramStore('h', 'H.', [], [1], settings({ maxBuckets: 1, minResetInterval: 1000 }));
    registry.registerMetric(store as unknown as Metric);
    const series = store.seriesFor([]);
    observe(series, 0.1);
    observe(series, 0.1);
    const text = await renderMetrics(registry, false);
    const protobuf = Buffer.concat(await renderProtobufPieces(registry));
    now += 1000;
    observe(series, 50); // over maxBuckets, interval passed: reset, then 50 recorded
    observe(series, 50);
    expect(series.count).toBe(2);
    expect(await renderMetrics(registry, false)).not.toBe(text);
    expect(await renderMetrics(registry, false)).toMatch(/\nh_sum\S* 100\n/);
    expect(Buffer.concat(await renderProtobufPieces(registry)).equals(protobuf)).toBe(false);
  });

  it('is created for the duration and size histograms by the nativeHistograms option, and reset with the store', () => {
    const options = resolveOptions({ nativeHistograms: { sizeBucketFactor: 2 } });
    const store = new HistogramStore('h', 'H.', [], [1], options.nativeHistograms?.size);
    const series = store.seriesFor([]);
    observe(series, 0);
    observe(series, 3);
    expect(series.native?.zeroCount).toBe(1);
    expect(bucketsOf(series.native as NativeBuckets)).toEqual(new Map([[2, 1]]));
    store.reset();
    expect(series.native?.zeroCount).toBe(0);
    expect(series.native?.populated).toBe(0);
    expect(bucketsOf(series.native as NativeBuckets).size).toBe(0);
  });
});

describe('the nativeHistograms option on the request metrics', () => {
  it('leaves the text and OpenMetrics output as it is, and with buckets: [] renders only +Inf, sum and count', async () => {
    const render = async (options: RoutemeterOptions) => {
      const registry = new Registry();
      const metrics = requestMetrics(resolveOptions({ registry, defaultMetrics: false, ...options }));
      for (const value of [0, 0.003, 0.2, 0.2, 7]) observe(metrics.duration.seriesFor(['GET', '/a', '200']), value);
      return [await renderMetrics(registry, false), await renderMetrics(registry, true)];
    };
    expect(await render({ nativeHistograms: true })).toEqual(await render({}));
    const [text] = await render({ nativeHistograms: true, buckets: [] });
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/a",status_code="200"} 5\n',
    );
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/a",status_code="200"} 5\n');
    expect(text).not.toContain('le="0.');
  });

  it('refuses a second routemeter on the registry with other native settings, saying which', () => {
    const registry = new Registry();
    requestMetrics(resolveOptions({ registry, defaultMetrics: false, nativeHistograms: true }));
    expect(() =>
      requestMetrics(resolveOptions({ registry, defaultMetrics: false, nativeHistograms: { bucketFactor: 2 } })),
    ).toThrow(
      'routemeter: metric `http_request_duration_seconds` is already registered with other native histogram settings (schema 3, maxBuckets 160, zeroThreshold 2.938735877055719e-39, minResetInterval none); routemeter needs schema 0, maxBuckets 160, zeroThreshold 2.938735877055719e-39, minResetInterval none',
    );
    expect(() => requestMetrics(resolveOptions({ registry, defaultMetrics: false }))).toThrow(
      /other native histogram settings .*; routemeter needs none/,
    );
  });
});
