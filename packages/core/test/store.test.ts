import fc from 'fast-check';
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../src/index.js';
import { HistogramStore, observe, ValueStore } from '../src/store.js';

const labelNames = ['method', 'route', 'status_code'];
const labelValue = fc.string({ unit: 'grapheme', maxLength: 12 });
const observation = fc.record({
  labels: fc.tuple(fc.constantFrom('GET', 'POST'), labelValue, fc.constantFrom('200', '404', '500')),
  value: fc.double({ min: 0, max: 20, noNaN: true }),
});
const BOUNDS = [0.005, 0.1, 1, 2.5, 10];

type Observation = { labels: [string, string, string]; value: number };

/** The same three metrics twice: prom-client's own on `theirs`, routemeter's stores on `ours`, fed alike. */
function pairedMetrics() {
  const theirs = new Registry();
  const counter = new Counter({ name: 'reqs_total', help: 'Requests.', labelNames, registers: [theirs] });
  const gauge = new Gauge({ name: 'in_flight', help: 'In flight.', labelNames: ['method'], registers: [theirs] });
  const histogram = new Histogram({
    name: 'req_seconds',
    help: 'Time.',
    labelNames,
    buckets: BOUNDS,
    registers: [theirs],
  });

  const ours = new Registry();
  const counterStore = new ValueStore('counter', 'reqs_total', 'Requests.', labelNames);
  const gaugeStore = new ValueStore('gauge', 'in_flight', 'In flight.', ['method']);
  const histogramStore = new HistogramStore('req_seconds', 'Time.', labelNames, BOUNDS);
  for (const store of [counterStore, gaugeStore, histogramStore]) ours.registerMetric(store as unknown as Metric);

  return {
    theirs,
    ours,
    observe({ labels, value }: Observation) {
      const [method, route, status_code] = labels;
      counter.inc({ method, route, status_code });
      gauge.inc({ method }, value);
      histogram.observe({ method, route, status_code }, value);
      counterStore.seriesFor(labels).value += 1;
      gaugeStore.seriesFor([method]).value += value;
      observe(histogramStore.seriesFor(labels), value);
    },
    /** prom-client drops reset series while routemeter zeroes them: re-create prom-client's at 0 to compare. */
    reset() {
      theirs.resetMetrics();
      ours.resetMetrics();
      for (const series of histogramStore.series.values()) histogram.zero(series.labels as Record<string, string>);
      for (const series of counterStore.series.values()) counter.inc(series.labels as Record<string, string>, 0);
      for (const series of gaugeStore.series.values()) gauge.set(series.labels as Record<string, string>, 0);
    },
  };
}

/** The same observations rendered by both, with default labels (one colliding: the series' value wins). */
async function renderBoth(observations: Observation[], openMetrics: boolean) {
  const paired = pairedMetrics();
  for (const o of observations) paired.observe(o);
  paired.theirs.setDefaultLabels({ service: 'api', method: 'DEFAULT' });
  paired.ours.setDefaultLabels({ service: 'api', method: 'DEFAULT' });
  return {
    theirs: await renderMetrics(paired.theirs, openMetrics),
    ours: await renderMetrics(paired.ours, openMetrics),
    ourRegistry: paired.ours,
    theirRegistry: paired.theirs,
  };
}

describe("routemeter's stores render exactly as prom-client's metrics", () => {
  it('in the text format, sample by sample', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
        const { theirs, ours } = await renderBoth(observations, false);
        expect(ours).toBe(theirs);
      }),
      { numRuns: 100 },
    );
  });

  it('in OpenMetrics, sample by sample', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
        const { theirs, ours } = await renderBoth(observations, true);
        expect(ours).toBe(theirs);
      }),
      { numRuns: 100 },
    );
  });

  it('writes every kind of value as prom-client does: counts digit by digit, the rest as JavaScript prints them', async () => {
    // Counts are written digit by digit; anything else (negative, fractional, past 2^53, NaN, ±Infinity, -0) as text.
    const value = fc.oneof(
      fc.double(),
      fc.nat(),
      fc.integer({ min: 2 ** 31 - 2, max: 2 ** 32 + 2 }),
      fc.constantFrom(-0, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, 123456789012345680000),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 10 }), fc.boolean(), async (values, openMetrics) => {
        const theirs = new Registry();
        const ours = new Registry();
        const gauge = new Gauge({ name: 'level', help: 'Level.', labelNames: ['at'], registers: [theirs] });
        const store = new ValueStore('gauge', 'level', 'Level.', ['at']);
        ours.registerMetric(store as unknown as Metric);
        values.forEach((v, i) => {
          gauge.set({ at: String(i) }, v);
          store.seriesFor([String(i)]).value = v;
        });
        expect(await renderMetrics(ours, openMetrics)).toBe(await renderMetrics(theirs, openMetrics));
      }),
      { numRuns: 200 },
    );
  });

  it('as JSON for getMetricsAsJSON, which cluster aggregation reads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 20 }), async (observations) => {
        const { ourRegistry, theirRegistry } = await renderBoth(observations, false);
        // prom-client adds `exemplar: null` to buckets without exemplars; the samples are what must agree.
        const strip = (metrics: unknown[]) =>
          JSON.parse(JSON.stringify(metrics, (key, value) => (key === 'exemplar' ? undefined : value)));
        expect(strip(await ourRegistry.getMetricsAsJSON())).toEqual(strip(await theirRegistry.getMetricsAsJSON()));
      }),
      { numRuns: 50 },
    );
  });

  it('never serves stale cached text: rendering between changes and resets matches prom-client each time', async () => {
    const step = fc.oneof(
      observation.map((o) => ({ kind: 'observe' as const, ...o })),
      fc.constant({ kind: 'reset' as const }),
      fc.constant({ kind: 'render' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), fc.boolean(), async (steps, openMetrics) => {
        const paired = pairedMetrics();
        for (const s of [...steps, { kind: 'render' as const }]) {
          if (s.kind === 'observe') {
            paired.observe(s);
          } else if (s.kind === 'reset') {
            paired.reset();
          } else {
            expect(await renderMetrics(paired.ours, openMetrics)).toBe(await renderMetrics(paired.theirs, openMetrics));
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('keeps the cache right across many chunks: changed, new and reset series, new default labels, renderings at once', async () => {
    // 1,200 label sets with long routes: the histogram's text spans ~15 chunks of 64 KiB, the counter's two.
    const known = Array.from({ length: 1200 }, (_, i): [string, string, string] => [
      i % 2 === 0 ? 'GET' : 'POST',
      `/tenants/:tenant/projects/${'x'.repeat(i % 40)}/items/${i}`,
      ['200', '404', '500'][i % 3] as string,
    ]);
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('observe' as const),
        at: fc.nat(known.length - 1),
        value: fc.double({ min: 0, max: 20, noNaN: true }),
      }),
      observation.map((o) => ({ kind: 'new' as const, ...o })),
      fc.constant({ kind: 'reset' as const }),
      fc.constant({ kind: 'defaults' as const }),
      fc.constant({ kind: 'render' as const }),
      fc.constant({ kind: 'render twice at once' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), fc.boolean(), async (steps, openMetrics) => {
        const paired = pairedMetrics();
        for (const labels of known) paired.observe({ labels, value: 0.2 });
        let defaults = 0;
        for (const s of [{ kind: 'render' as const }, ...steps, { kind: 'render' as const }]) {
          if (s.kind === 'observe') paired.observe({ labels: known[s.at] as Observation['labels'], value: s.value });
          else if (s.kind === 'new') paired.observe(s);
          else if (s.kind === 'reset') paired.reset();
          else if (s.kind === 'defaults') {
            defaults += 1;
            paired.theirs.setDefaultLabels({ service: `api-${defaults}` });
            paired.ours.setDefaultLabels({ service: `api-${defaults}` });
          } else {
            const expected = await renderMetrics(paired.theirs, openMetrics);
            const times = s.kind === 'render' ? 1 : 2;
            const ours = await Promise.all(
              Array.from({ length: times }, () => renderMetrics(paired.ours, openMetrics)),
            );
            for (const text of ours) expect(text).toBe(expected);
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('reset by registry.resetMetrics() zeroes every series in place', async () => {
    const registry = new Registry();
    const store = new HistogramStore('t_seconds', 'Time.', ['route'], [1]);
    registry.registerMetric(store as unknown as Metric);
    const series = store.seriesFor(['/x']);
    observe(series, 0.5);
    observe(series, 5);
    registry.resetMetrics();
    expect([series.count, series.sum, [...series.counts]]).toEqual([0, 0, [0, 0]]);
    observe(series, 0.5);
    expect(await registry.metrics()).toContain('t_seconds_count{route="/x"} 1');
  });
});
