// The cluster primary's ledger with native histograms: workers whose series lost resolution at different
// times (so report different schemas), that restart and that exit. The primary serves every observation
// ever reported, merged at the coarsest schema, and its native buckets never go down.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../test-kit/http.js';
import { PROTOBUF_CONTENT_TYPE } from '../src/adapter.js';
import { ClusterLedger } from '../src/cluster/ledger.js';
import { readAnswer, type StoreFamily } from '../src/cluster/protocol.js';
import { bucketIndex, DEFAULT_ZERO_THRESHOLD, NativeBuckets, type NativeSettings } from '../src/native-histogram.js';
import type { HistogramStore } from '../src/store.js';
import { startCluster, stopClusters } from './cluster-kit.js';
import { type DecodedHistogram, decode, labelsOf, nativeBucketsOf, PROMETHEUS_NATIVE_ACCEPT } from './protobuf-kit.js';

afterEach(stopClusters);

const NAME = 'http_request_duration_seconds';

/** One worker's histogram series: classic bound 1, native buckets, and every value it observed. */
interface Worker {
  native: NativeBuckets;
  values: number[];
}

function answerOf(worker: Worker, settings: NativeSettings): StoreFamily {
  const below = worker.values.filter((v) => v <= 1).length;
  return {
    kind: 'store',
    name: NAME,
    help: 'Durations.',
    type: 'histogram',
    labelNames: ['route'],
    bounds: [1],
    series: 1,
    labelsFrom: 0,
    labels: [['/a']],
    values: [below, worker.values.length - below, worker.values.reduce((a, b) => a + b, 0), worker.values.length],
    native: { schema: settings.schema, maxBuckets: settings.maxBuckets, zeroThreshold: settings.zeroThreshold },
    natives: [worker.native.toWire()],
  };
}

/** Bucket index → count of a NativeBuckets. */
function bucketsOf(native: NativeBuckets): Map<number, number> {
  const buckets = new Map<number, number>();
  native.counts.forEach((count, slot) => {
    if (count > 0) buckets.set(native.first + slot, count);
  });
  return buckets;
}

function reference(values: readonly number[], schema: number): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const value of values) {
    if (value <= DEFAULT_ZERO_THRESHOLD) continue;
    const index = bucketIndex(value, schema);
    buckets.set(index, (buckets.get(index) ?? 0) + 1);
  }
  return buckets;
}

const step = fc.oneof(
  fc.record({
    kind: fc.constant('observe' as const),
    values: fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 30 }),
  }),
  fc.constant({ kind: 'restart' as const }),
  fc.constant({ kind: 'exit' as const }),
);

describe('the cluster primary with native histograms', () => {
  it('serves all that was reported, at the coarsest schema, never lower than before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), step), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 12 }),
        (steps, maxBuckets) => {
          const settings: NativeSettings = {
            schema: 3,
            maxBuckets,
            zeroThreshold: DEFAULT_ZERO_THRESHOLD,
            minResetInterval: undefined,
          };
          const ledger = new ClusterLedger({ warn: () => {} });
          const workers = new Map<number, Worker>();
          let nextId = 0;
          const ids = [0, 1, 2].map(() => nextId++);
          /** Every value any worker reported: what the primary must serve. */
          const reported: number[] = [];
          let previous: { schema: number; buckets: Map<number, number>; zero: number } | undefined;
          const fresh = (): Worker => ({ native: new NativeBuckets(settings), values: [] });
          for (const [slot, action] of steps) {
            const id = ids[slot] as number;
            const worker = workers.get(id) ?? fresh();
            workers.set(id, worker);
            if (action.kind === 'observe') {
              for (const value of action.values) {
                worker.native.observe(value);
                worker.values.push(value);
              }
            } else if (action.kind === 'restart') {
              // Its registry reset: it reports from zero (the primary keeps what it had reported).
              workers.set(id, fresh());
            } else {
              ledger.retire(id);
              workers.delete(id);
              ids[slot] = nextId++;
              continue;
            }
            const answer = readAnswer(
              JSON.parse(
                JSON.stringify({
                  type: 'routemeter:cluster-answer/1',
                  ids: [1],
                  families: [answerOf(workers.get(id) as Worker, settings)],
                }),
              ),
            );
            expect(answer).toBeDefined();
            expect(ledger.record(id, answer?.families ?? [])).toBe(true);
            if (action.kind === 'observe') reported.push(...action.values);

            const live = [...workers.keys()];
            const registry = ledger.registry(live, new Set(live));
            const store = registry.getSingleMetric(NAME) as unknown as HistogramStore;
            const series = [...store.series.values()][0];
            const native = series?.native as NativeBuckets;
            expect(native).toBeDefined();
            const schemas = [...workers.values()].filter((w) => w.native.populated > 0).map((w) => w.native.schema);
            expect(native.schema).toBeLessThanOrEqual(Math.min(3, ...schemas));
            expect(series?.count).toBe(reported.length);
            expect(native.zeroCount).toBe(reported.filter((v) => v <= DEFAULT_ZERO_THRESHOLD).length);
            const buckets = bucketsOf(native);
            expect(buckets).toEqual(reference(reported, native.schema));
            if (previous !== undefined) {
              // Never lower: the previous buckets, brought to this schema, are each at most the new ones.
              expect(native.schema).toBeLessThanOrEqual(previous.schema);
              const coarser = new NativeBuckets({ ...settings, schema: previous.schema });
              for (const [index, count] of previous.buckets) coarser.add([previous.schema, 0, index, count]);
              while (coarser.schema > native.schema) coarser.halveResolution();
              for (const [index, count] of bucketsOf(coarser))
                expect(buckets.get(index) ?? 0).toBeGreaterThanOrEqual(count);
              expect(native.zeroCount).toBeGreaterThanOrEqual(previous.zero);
            }
            if (native.populated > 0) previous = { schema: native.schema, buckets, zero: native.zeroCount };
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses native buckets that are not well-formed, and a worker with other native settings', () => {
    const settings: NativeSettings = {
      schema: 3,
      maxBuckets: 160,
      zeroThreshold: DEFAULT_ZERO_THRESHOLD,
      minResetInterval: undefined,
    };
    const worker = { native: new NativeBuckets(settings), values: [0.5] };
    worker.native.observe(0.5);
    const good = answerOf(worker, settings);
    const message = (family: unknown) => ({ type: 'routemeter:cluster-answer/1', ids: [1], families: [family] });
    expect(readAnswer(message(good))).toBeDefined();
    for (const natives of [
      [],
      [[3, 0]],
      [[9, 0, 0]],
      [[3, -1, 0]],
      [[3, 0, 0.5]],
      [[3, 0, 0, -1]],
      [[3, 0, 0, 'x']],
      'x',
    ]) {
      expect(readAnswer(message({ ...good, natives })), JSON.stringify(natives)).toBeUndefined();
    }
    expect(readAnswer(message({ ...good, native: undefined }))).toBeUndefined();
    expect(readAnswer(message({ ...good, native: { schema: 3, maxBuckets: 160 } }))).toBeUndefined();

    const warnings: string[] = [];
    const ledger = new ClusterLedger({ warn: (m) => warnings.push(m) });
    expect(ledger.record(1, [good])).toBe(true);
    expect(ledger.record(2, [{ ...good, native: { ...good.native, maxBuckets: 20 } } as StoreFamily])).toBe(true);
    expect(warnings.join('\n')).toMatch(
      /worker 2 reports metric http_request_duration_seconds with other labels, buckets or type/,
    );
  });

  it('serves the workers’ native buckets merged, over protobuf, from a real cluster', async () => {
    const cluster = await startCluster({ WORKERS: '2', NATIVE: '1' });
    const scrapeNative = async () => {
      const res = await fetch(`http://127.0.0.1:${cluster.metrics}/metrics`, {
        headers: { accept: PROMETHEUS_NATIVE_ACCEPT },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(PROTOBUF_CONTENT_TYPE);
      const { families } = decode(new Uint8Array(await res.arrayBuffer()));
      const duration = families.find((family) => family.name === NAME);
      expect(duration?.metric).toHaveLength(1);
      expect(labelsOf(duration?.metric[0] ?? {})).toEqual({ method: 'GET', route: '/work/:id', status_code: '200' });
      return duration?.metric[0]?.histogram as DecodedHistogram;
    };
    let sent = 0;
    let before: Map<number, number> | undefined;
    for (const count of [30, 30]) {
      for (let i = 0; i < count; i++) expect((await send(cluster.app, `/work/${sent++}`)).status).toBe(200);
      const histogram = await scrapeNative();
      const buckets = nativeBucketsOf(histogram);
      expect(histogram.sample_count).toBe(sent);
      expect(histogram.schema).toBe(3);
      expect(histogram.zero_threshold).toBe(DEFAULT_ZERO_THRESHOLD);
      expect((histogram.zero_count ?? 0) + [...buckets.values()].reduce((a, b) => a + b, 0)).toBe(sent);
      for (const [index, count] of before ?? []) expect(buckets.get(index)).toBeGreaterThanOrEqual(count);
      before = buckets;
    }
  });
});
