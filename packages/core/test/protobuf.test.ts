import fc from 'fast-check';
import { Counter, Gauge, Histogram, type Metric, Registry, Summary } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createRecorder, PROTOBUF_CONTENT_TYPE } from '../src/adapter.js';
import { serveMetrics } from '../src/index.js';
import { bucketIndex, DEFAULT_ZERO_THRESHOLD } from '../src/native-histogram.js';
import { renderProtobufPieces } from '../src/protobuf.js';
import { HistogramStore, observe, ValueStore } from '../src/store.js';
import {
  type DecodedFamily,
  type DecodedHistogram,
  type DecodedMetric,
  decode,
  labelsOf,
  nativeBucketsOf,
  PROMETHEUS_NATIVE_ACCEPT,
} from './protobuf-kit.js';

function referenceBuckets(values: readonly number[], schema: number): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const value of values.filter((v) => v > DEFAULT_ZERO_THRESHOLD)) {
    const index = bucketIndex(value, schema);
    buckets.set(index, (buckets.get(index) ?? 0) + 1);
  }
  return new Map([...buckets].sort(([a], [b]) => a - b));
}

const stopping: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stopping) await stop();
});

describe('the Prometheus protobuf format, decoded by protobufjs from metrics.proto', () => {
  it('serves every metric of the registry, classic and native parts of a histogram in one message, over real HTTP', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'api' });
    const meter = createRecorder<{ trace?: string }, unknown>(
      {
        registry,
        defaultMetrics: false,
        buckets: [0.1, 1],
        nativeHistograms: true,
        responseSize: true,
        exemplars: (req) => (req.trace === undefined ? undefined : { trace_id: req.trace }),
      },
      { requestSize: () => undefined, responseSize: () => 0 },
    );
    const durations = [0.003, 0.05, 0.05, 0.2, 0.7, 1.5, 12];
    durations.forEach((seconds, i) => {
      meter.method('GET').finish('/a', 200, seconds, { trace: `t${i}` }, {});
    });
    new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['kind'], registers: [registry] }).inc(
      { kind: 'a' },
      2,
    );
    new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [registry] }).set(7);
    const theirs = new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [1, 2], registers: [registry] });
    theirs.observe(1.5);
    theirs.observe(3);
    const summary = new Summary({ name: 'rpc_seconds', help: 'RPC.', percentiles: [0.5], registers: [registry] });
    summary.observe(4);

    const server = await serveMetrics({ port: 0, host: '127.0.0.1', registry });
    stopping.push(() => server.close());
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`, {
      headers: { accept: PROMETHEUS_NATIVE_ACCEPT },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROTOBUF_CONTENT_TYPE);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    const { families, reencoded } = decode(body);
    // Byte for byte what protobufjs encodes the decoded messages to: no field our encoder wrote oddly.
    expect(reencoded.equals(Buffer.from(body))).toBe(true);

    const byName = Object.fromEntries(families.map((f) => [f.name, f]));
    expect(Object.keys(byName)).toEqual([
      'http_requests_total',
      'http_request_duration_seconds',
      'http_response_size_bytes',
      'jobs_total',
      'queue_depth',
      'job_seconds',
      'rpc_seconds',
    ]);
    const series = { method: 'GET', route: '/a', status_code: '200', service: 'api' };

    const requests = byName.http_requests_total as DecodedFamily;
    expect(requests.type).toBe(0);
    expect(labelsOf(requests.metric[0] as DecodedMetric)).toEqual(series);
    expect(requests.metric[0]?.counter?.value).toBe(7);
    expect(requests.metric[0]?.counter?.exemplar?.label).toEqual([{ name: 'trace_id', value: 't6' }]);
    expect(requests.metric[0]?.counter?.exemplar?.value).toBe(1);
    expect(requests.metric[0]?.counter?.exemplar?.timestamp?.seconds).toBeGreaterThan(1.7e9);

    const duration = byName.http_request_duration_seconds as DecodedFamily;
    expect(duration).toMatchObject({
      type: 4,
      help: 'Time from request start to response end (or client abort), in seconds.',
    });
    expect(duration.metric).toHaveLength(1);
    expect(labelsOf(duration.metric[0] as DecodedMetric)).toEqual(series);
    const histogram = duration.metric[0]?.histogram as DecodedHistogram;
    expect(histogram.sample_count).toBe(7);
    expect(histogram.sample_sum).toBeCloseTo(
      durations.reduce((a, b) => a + b),
      12,
    );
    expect(histogram.bucket?.map((b) => [b.upper_bound, b.cumulative_count])).toEqual([
      [0.1, 3],
      [1, 5],
      [Number.POSITIVE_INFINITY, 7], // only to carry its exemplar
    ]);
    expect(histogram.bucket?.map((b) => [b.exemplar?.label[0]?.value, b.exemplar?.value])).toEqual([
      ['t2', 0.05],
      ['t4', 0.7],
      ['t6', 12],
    ]);
    expect(histogram).toMatchObject({ schema: 3, zero_threshold: DEFAULT_ZERO_THRESHOLD, zero_count: 0 });
    expect(nativeBucketsOf(histogram)).toEqual(referenceBuckets(durations, 3));

    // Sizes of 0 bytes: all in the zero bucket, which alone marks the histogram native.
    const sizes = byName.http_response_size_bytes?.metric[0]?.histogram as DecodedHistogram;
    expect(sizes).toMatchObject({ sample_count: 7, sample_sum: 0, schema: 3, zero_count: 7 });
    expect(sizes.positive_span).toBeUndefined();

    expect(byName.jobs_total?.metric.map((m) => [labelsOf(m), m.counter?.value])).toEqual([
      [{ kind: 'a', service: 'api' }, 2],
    ]);
    expect(byName.queue_depth).toMatchObject({ type: 1, metric: [{ gauge: { value: 7 } }] });
    const job = byName.job_seconds?.metric[0] as DecodedMetric;
    expect(labelsOf(job)).toEqual({ service: 'api' });
    expect(job.histogram).toMatchObject({ sample_count: 2, sample_sum: 4.5 });
    expect(job.histogram?.bucket?.map((b) => [b.upper_bound, b.cumulative_count])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect(job.histogram?.schema).toBeUndefined();
    expect(byName.rpc_seconds).toMatchObject({
      type: 2,
      metric: [{ summary: { sample_count: 1, sample_sum: 4, quantile: [{ quantile: 0.5, value: 4 }] } }],
    });
  });

  it('writes an empty span for a native histogram with nothing in it and a zero threshold of 0', async () => {
    const registry = new Registry();
    const store = new HistogramStore('h', 'H.', ['a'], [], {
      schema: 0,
      maxBuckets: 10,
      zeroThreshold: 0,
      minResetInterval: undefined,
    });
    registry.registerMetric(store as unknown as Metric);
    store.seriesFor(['x']);
    const { families } = decode(Buffer.concat(await renderProtobufPieces(registry)));
    expect(families[0]?.metric[0]?.histogram).toMatchObject({
      sample_count: 0,
      schema: 0,
      zero_threshold: 0,
      zero_count: 0,
      positive_span: [{ offset: 0, length: 0 }],
    });
    expect(families[0]?.metric[0]?.histogram?.bucket).toBeUndefined();
  });

  it('decodes to what was recorded, whatever the label values, values and number of series', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            route: fc.string({ unit: 'binary', maxLength: 40 }), // lone surrogates and control characters too
            value: fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.constantFrom(0, 1, 2, 0.5, 1e-300)),
          }),
          { maxLength: 200 },
        ),
        fc.integer({ min: -4, max: 8 }),
        async (observations, schema) => {
          const registry = new Registry();
          const store = new HistogramStore('h_seconds', 'H.', ['route'], [0.5, 5], {
            schema,
            maxBuckets: 160,
            zeroThreshold: DEFAULT_ZERO_THRESHOLD,
            minResetInterval: undefined,
          });
          registry.registerMetric(store as unknown as Metric);
          const recorded = new Map<string, number[]>();
          for (const { route, value } of observations) {
            const series = store.seriesFor([route]);
            observe(series, value);
            const values = recorded.get(series.labels.route as string) ?? [];
            values.push(value);
            recorded.set(series.labels.route as string, values);
          }
          const body = Buffer.concat(await renderProtobufPieces(registry));
          const { families, reencoded } = decode(body);
          expect(reencoded.equals(body)).toBe(true);
          expect(families.length).toBe(recorded.size === 0 ? 0 : 1);
          for (const metric of families[0]?.metric ?? []) {
            const values = recorded.get(labelsOf(metric).route as string) as number[];
            const histogram = metric.histogram as DecodedHistogram;
            expect(histogram.sample_count).toBe(values.length);
            expect(histogram.zero_count).toBe(values.filter((v) => v <= DEFAULT_ZERO_THRESHOLD).length);
            expect(histogram.bucket?.map((b) => b.cumulative_count)).toEqual([
              values.filter((v) => v <= 0.5).length,
              values.filter((v) => v <= 5).length,
            ]);
            expect(nativeBucketsOf(histogram)).toEqual(referenceBuckets(values, histogram.schema as number));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never serves a stale cached message, across many chunks: changed, new and reset series, new default labels, renderings at once', async () => {
    // 1,200 routes with long names: the histogram's messages span several chunks of 64 KiB.
    const known = Array.from({ length: 1200 }, (_, i) => `/tenants/:tenant/projects/${'x'.repeat(i % 40)}/items/${i}`);
    type Change =
      | { kind: 'observe'; route: string; value: number }
      | { kind: 'reset' }
      | { kind: 'defaults'; service: string };
    const change = fc.oneof(
      fc.record({
        kind: fc.constant('observe' as const),
        route: fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 })),
        value: fc.double({ min: 0, max: 20, noNaN: true }),
      }),
      fc.constant({ kind: 'reset' as const }),
      fc.record({ kind: fc.constant('defaults' as const), service: fc.string({ maxLength: 8 }) }),
    );
    const step = fc.oneof(
      change,
      fc.constantFrom({ kind: 'render' as const }, { kind: 'render twice at once' as const }),
    );
    /** A registry fed `changes`: each render of the warm one is compared with a new one fed the same. */
    function fed(changes: readonly Change[]) {
      const registry = new Registry();
      const counter = new ValueStore('counter', 'reqs_total', 'Requests.', ['route']);
      const histogram = new HistogramStore('req_seconds', 'Time.', ['route'], [0.1, 1], {
        schema: 3,
        maxBuckets: 160,
        zeroThreshold: DEFAULT_ZERO_THRESHOLD,
        minResetInterval: undefined,
      });
      for (const store of [counter, histogram]) registry.registerMetric(store as unknown as Metric);
      const apply = (c: Change) => {
        if (c.kind === 'observe') {
          counter.seriesFor([c.route]).value += 1;
          observe(histogram.seriesFor([c.route]), c.value);
        } else if (c.kind === 'reset') registry.resetMetrics();
        else registry.setDefaultLabels({ service: c.service });
      };
      for (const c of changes) apply(c);
      return { registry, apply };
    }
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        const changes: Change[] = known.map((route) => ({ kind: 'observe', route, value: 0.2 }));
        const warm = fed(changes);
        for (const s of [{ kind: 'render' as const }, ...steps, { kind: 'render' as const }]) {
          if (s.kind === 'render' || s.kind === 'render twice at once') {
            const expected = Buffer.concat(await renderProtobufPieces(fed(changes).registry));
            const times = s.kind === 'render' ? 1 : 2;
            const bodies = await Promise.all(Array.from({ length: times }, () => renderProtobufPieces(warm.registry)));
            for (const body of bodies) expect(Buffer.concat(body).equals(expected)).toBe(true);
          } else {
            warm.apply(s);
            changes.push(s);
          }
        }
      }),
      { numRuns: 20 },
    );
  });
});
