// The primary's ledger on its own, against a model: workers answer, miss scrapes, reset, stop reporting a
// series, exit and are replaced, in any order. Served counters and histograms never go down and are exactly
// what the workers last answered plus what exited or went back; gauges are the sum of this scrape's answers.
// And whatever a worker sends, the primary's check either accepts it as something the ledger can use, or drops it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { ClusterLedger } from '../src/cluster/ledger.js';
import { ANSWER, readAnswer, toWire, type WireFamily } from '../src/cluster/protocol.js';
import { renderMetrics } from '../src/index.js';

const SERIES = ['a', 'b'] as const;
type Series = (typeof SERIES)[number];

/** One worker's own registry, as numbers: a counter and a histogram (bound 1) per series, a gauge, a prom-client counter. */
interface Local {
  counter: Record<Series, number>;
  observations: Record<Series, number>;
  present: Record<Series, boolean>;
  gauge: number;
}

const freshLocal = (): Local => ({
  counter: { a: 0, b: 0 },
  observations: { a: 0, b: 0 },
  present: { a: false, b: false },
  gauge: 0,
});

/** The worker's answer, every store in full. */
function answerOf(local: Local): WireFamily[] {
  const shown = SERIES.filter((s) => local.present[s]);
  const rows = shown.map((s) => [s]);
  const series = shown.length;
  return [
    {
      kind: 'store',
      name: 'http_requests_total',
      help: 'Requests.',
      type: 'counter',
      labelNames: ['route'],
      bounds: [],
      series,
      labelsFrom: 0,
      labels: rows,
      values: shown.map((s) => local.counter[s]),
    },
    {
      kind: 'store',
      name: 'http_request_duration_seconds',
      help: 'Durations.',
      type: 'histogram',
      labelNames: ['route'],
      bounds: [1],
      series,
      labelsFrom: 0,
      labels: rows,
      // every observation is 0.5 s: in the first bucket
      values: shown.flatMap((s) => [local.observations[s], 0, local.observations[s] / 2, local.observations[s]]),
    },
    {
      kind: 'metric',
      name: 'jobs_total',
      help: 'Jobs.',
      type: 'counter',
      aggregator: 'sum',
      bounds: [],
      labels: shown.map((s) => ({ kind: s })),
      values: shown.map((s) => local.counter[s]),
    },
    {
      kind: 'store',
      name: 'http_requests_in_flight',
      help: 'In flight.',
      type: 'gauge',
      labelNames: ['method'],
      bounds: [],
      series: 1,
      labelsFrom: 0,
      labels: [['GET']],
      values: [local.gauge],
    },
  ];
}

/**
 * An answer as a worker sends it relative to its previous one (`before`, in full): a store leaves out the
 * labels of its first series while they are the same, and the values of the series that did not change.
 */
function relativeTo(before: readonly WireFamily[], answer: readonly WireFamily[]): WireFamily[] {
  return answer.map((family) => {
    const old = before.find((f) => f.name === family.name);
    if (family.kind !== 'store' || old?.kind !== 'store') return family;
    const stride = family.type === 'histogram' ? family.bounds.length + 3 : 1;
    const row = (f: typeof family, i: number) => JSON.stringify(f.labels[i]);
    const valuesOf = (f: typeof family, i: number) => JSON.stringify(f.values.slice(i * stride, (i + 1) * stride));
    let labelsFrom = 0;
    while (labelsFrom < Math.min(old.series, family.series) && row(old, labelsFrom) === row(family, labelsFrom)) {
      labelsFrom++;
    }
    const changed = Array.from({ length: family.series }, (_, i) => i).filter(
      (i) => i >= labelsFrom || valuesOf(old, i) !== valuesOf(family, i),
    );
    return {
      ...family,
      labelsFrom,
      labels: family.labels.slice(labelsFrom),
      changed,
      values: changed.flatMap((i) => family.values.slice(i * stride, (i + 1) * stride)),
    };
  });
}

/** What the primary can know of a series: each worker's value at its last answer, plus what it retained. */
interface Known {
  retained: Record<Series, number>;
  last: Record<Series, number>;
  lastObservations: Record<Series, number>;
  retainedObservations: Record<Series, number>;
}

const WORKERS = 3;
const slot = fc.integer({ min: 0, max: WORKERS - 1 });
const series = fc.constantFrom(...SERIES);
const op = fc.oneof(
  fc.record({ op: fc.constant('work' as const), slot, series, n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('gauge' as const), slot, value: fc.integer({ min: 0, max: 9 }) }),
  // an answer outside any scrape (late, or another collector's), with every label or not
  fc.record({ op: fc.constant('late' as const), slot, full: fc.boolean() }),
  fc.record({ op: fc.constant('reset' as const), slot }),
  fc.record({ op: fc.constant('drop' as const), slot, series }),
  fc.record({ op: fc.constant('exit' as const), slot }),
  fc.record({ op: fc.constant('scrape' as const), answering: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }),
);

describe('ClusterLedger', () => {
  it('serves counters and histograms that never go down and equal what the workers answered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 80 }), async (ops) => {
        const ledger = new ClusterLedger({ warn() {} });
        let nextId = 1;
        const ids = Array.from({ length: WORKERS }, () => nextId++);
        const locals = ids.map(freshLocal);
        const known: Known[] = ids.map(() => ({
          retained: { a: 0, b: 0 },
          last: { a: 0, b: 0 },
          lastObservations: { a: 0, b: 0 },
          retainedObservations: { a: 0, b: 0 },
        }));
        /** Each worker's last answer, in full, for the next one to be relative to. */
        const lastSent: (WireFamily[] | undefined)[] = ids.map(() => undefined);
        const answer = (i: number, full = false) => {
          const local = locals[i] as Local;
          const k = known[i] as Known;
          for (const s of SERIES) {
            const now = local.present[s] ? local.counter[s] : 0;
            const nowObserved = local.present[s] ? local.observations[s] : 0;
            // The model of "went back": lower than at the last answer, or no longer reported.
            if (!local.present[s] || now < k.last[s]) k.retained[s] += k.last[s];
            if (!local.present[s] || nowObserved < k.lastObservations[s])
              k.retainedObservations[s] += k.lastObservations[s];
            k.last[s] = now;
            k.lastObservations[s] = nowObserved;
          }
          const whole = answerOf(local);
          const before = lastSent[i];
          expect(ledger.record(ids[i] as number, full || !before ? whole : relativeTo(before, whole))).toBe(true);
          lastSent[i] = whole;
        };
        let served: Record<string, number> = {};
        for (const step of ops) {
          if (step.op === 'work') {
            const local = locals[step.slot] as Local;
            local.present[step.series] = true;
            local.counter[step.series] += step.n;
            local.observations[step.series] += step.n;
          } else if (step.op === 'gauge') (locals[step.slot] as Local).gauge = step.value;
          else if (step.op === 'late') answer(step.slot, step.full);
          else if (step.op === 'reset') {
            const local = locals[step.slot] as Local;
            local.counter = { a: 0, b: 0 };
            local.observations = { a: 0, b: 0 };
          } else if (step.op === 'drop') {
            const local = locals[step.slot] as Local;
            local.present[step.series] = false;
            local.counter[step.series] = 0;
            local.observations[step.series] = 0;
          } else if (step.op === 'exit') {
            ledger.retire(ids[step.slot] as number);
            const k = known[step.slot] as Known;
            for (const s of SERIES) {
              k.retained[s] += k.last[s];
              k.retainedObservations[s] += k.lastObservations[s];
              k.last[s] = 0;
              k.lastObservations[s] = 0;
            }
            ids[step.slot] = nextId++;
            locals[step.slot] = freshLocal();
            lastSent[step.slot] = undefined;
          } else {
            const answered = new Set<number>();
            step.answering.forEach((answers, i) => {
              if (!answers) return;
              answer(i);
              answered.add(ids[i] as number);
            });
            const body = await renderMetrics(ledger.registry(ids, answered), false);
            const metrics = parseExposition(body);
            const now: Record<string, number> = {};
            for (const s of SERIES) {
              const expected = known.reduce((sum, k) => sum + k.retained[s] + k.last[s], 0);
              const observed = known.reduce((sum, k) => sum + k.retainedObservations[s] + k.lastObservations[s], 0);
              const route = { route: s };
              now[`requests ${s}`] = sampleValue(metrics, 'http_requests_total', route) ?? 0;
              now[`jobs ${s}`] = sampleValue(metrics, 'jobs_total', { kind: s }) ?? 0;
              now[`count ${s}`] = sampleValue(metrics, 'http_request_duration_seconds_count', route) ?? 0;
              now[`bucket ${s}`] =
                sampleValue(metrics, 'http_request_duration_seconds_bucket', { le: '1', ...route }) ?? 0;
              expect(now[`requests ${s}`]).toBe(expected);
              expect(now[`jobs ${s}`]).toBe(expected);
              expect(now[`count ${s}`]).toBe(observed);
              expect(now[`bucket ${s}`]).toBe(observed);
              expect(sampleValue(metrics, 'http_request_duration_seconds_sum', route) ?? 0).toBe(observed / 2);
            }
            for (const [name, value] of Object.entries(now)) expect(value).toBeGreaterThanOrEqual(served[name] ?? 0);
            served = now;
            const gauge = step.answering.reduce(
              (sum, answers, i) => sum + (answers ? (locals[i] as Local).gauge : 0),
              0,
            );
            expect(sampleValue(metrics, 'http_requests_in_flight', { method: 'GET' }) ?? 0).toBe(gauge);
            expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(answered.size);
            for (const id of ids) {
              const stale = sampleValue(metrics, 'routemeter_cluster_worker_stale', { worker: String(id) });
              expect(stale).toBe(answered.has(id) ? 0 : 1);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses, recording nothing, an answer whose left-out labels it does not have', async () => {
    const ledger = new ClusterLedger({ warn() {} });
    const counter = (labelsFrom: number, labels: string[][], values: number[], changed?: number[]): WireFamily => ({
      kind: 'store',
      name: 'http_requests_total',
      help: 'Requests.',
      type: 'counter',
      labelNames: ['route'],
      bounds: [],
      series: labelsFrom + labels.length,
      labelsFrom,
      labels,
      ...(changed === undefined ? {} : { changed }),
      values,
    });
    expect(ledger.record(1, [counter(1, [], [5])])).toBe(false);
    expect(ledger.record(1, [counter(0, [['a']], [5])])).toBe(true);
    expect(ledger.record(1, [counter(2, [], [6, 1])])).toBe(false);
    expect(ledger.record(1, [counter(1, [['b']], [6, 1])])).toBe(true);
    expect(ledger.record(1, [counter(2, [['c']], [2], [0])])).toBe(false); // no values for c
    expect(ledger.record(1, [counter(2, [], [], [])])).toBe(true); // nothing changed
    const metrics = parseExposition(await renderMetrics(ledger.registry([1], new Set([1])), false));
    expect([
      sampleValue(metrics, 'http_requests_total', { route: 'a' }),
      sampleValue(metrics, 'http_requests_total', { route: 'b' }),
    ]).toEqual([6, 1]);
  });

  it('leaves out, with one warning, a family a worker reports with another shape', async () => {
    const warnings: string[] = [];
    const ledger = new ClusterLedger({ warn: (message) => warnings.push(message) });
    const counter = (labelNames: string[], value: number): WireFamily => ({
      kind: 'store',
      name: 'http_requests_total',
      help: 'Requests.',
      type: 'counter',
      labelNames,
      bounds: [],
      series: 1,
      labelsFrom: 0,
      labels: [labelNames.map(() => 'x')],
      values: [value],
    });
    ledger.record(1, [counter(['route'], 5)]);
    ledger.record(2, [counter(['route', 'tenant'], 7)]);
    ledger.record(2, [counter(['route', 'tenant'], 8)]);
    const metrics = parseExposition(await renderMetrics(ledger.registry([1, 2], new Set([1, 2])), true));
    expect(sampleValue(metrics, 'http_requests_total', { route: 'x' })).toBe(5);
    expect(warnings).toEqual([
      'routemeter: cluster worker 2 reports metric http_requests_total with other labels, buckets or type than ' +
        'the first worker that reported it; its values are left out of the sum',
    ]);
  });
});

describe('readAnswer: what the primary accepts from a worker', () => {
  const labels = fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.double()), {
    maxKeys: 3,
  });
  const numbers = fc.array(fc.double(), { maxLength: 8 });
  // Well-formed families of every kind (the values fitting the labels), so that the ledger gets to use them.
  const wellFormed = fc
    .record({
      kind: fc.constantFrom('store', 'metric'),
      name: fc.constantFrom('a_total', 'b', 'c_seconds'),
      type: fc.constantFrom('counter', 'gauge', 'histogram'),
      aggregator: fc.constantFrom('sum', 'first', 'min', 'max', 'average', 'omit', 'median'),
      labelNames: fc.constantFrom(['route'], ['route', 'code'], []),
      bounds: fc.constantFrom([], [1], [0.1, 1]),
      series: fc.integer({ min: 0, max: 3 }),
    })
    .chain(({ kind, name, type, aggregator, labelNames, bounds, series }) => {
      const stride = type === 'histogram' ? bounds.length + 3 : 1;
      // As a worker sends them: NaN and ±Infinity as strings.
      const values = fc
        .array(fc.oneof(fc.nat(100), fc.double()), { minLength: series * stride, maxLength: series * stride })
        .map((numbers) => numbers.map(toWire));
      const row = fc.array(fc.string({ maxLength: 3 }), { minLength: labelNames.length, maxLength: labelNames.length });
      const rows =
        kind === 'store'
          ? fc.array(row, { minLength: series, maxLength: series })
          : fc.array(labels, { minLength: series, maxLength: series });
      return fc.record({
        kind: fc.constant(kind),
        name: fc.constant(name),
        help: fc.constant('Help.'),
        type: fc.constant(type),
        aggregator: fc.constant(aggregator),
        labelNames: fc.constant(labelNames),
        bounds: fc.constant(type === 'histogram' ? bounds : []),
        series: fc.constant(series),
        labelsFrom: fc.constant(0),
        labels: rows,
        values,
      });
    });
  const family = fc.oneof(
    { arbitrary: wellFormed, weight: 40 },
    fc.record({
      kind: fc.constant('store'),
      name: fc.string(),
      help: fc.string(),
      type: fc.constantFrom('counter', 'gauge', 'histogram', 'summary'),
      labelNames: fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
      bounds: fc.array(fc.double(), { maxLength: 2 }),
      labels: fc.array(fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), { maxLength: 3 }),
      values: numbers,
    }),
    fc.record({
      kind: fc.constant('metric'),
      name: fc.string(),
      help: fc.string(),
      type: fc.constantFrom('counter', 'gauge', 'histogram'),
      aggregator: fc.constantFrom('sum', 'first', 'min', 'max', 'average', 'omit', 'median'),
      bounds: fc.array(fc.double(), { maxLength: 2 }),
      labels: fc.array(labels, { maxLength: 3 }),
      values: numbers,
    }),
    fc.record({
      kind: fc.constant('samples'),
      name: fc.string(),
      help: fc.string(),
      type: fc.string(),
      samples: fc.array(fc.record({ labels, value: fc.double() }), { maxLength: 3 }),
    }),
    fc.anything(),
  );
  const message = fc.oneof(
    fc.record({
      type: fc.constant(ANSWER),
      ids: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      families: fc.array(family, { maxLength: 5 }),
    }),
    fc.record({ type: fc.constant(ANSWER), ids: fc.array(fc.integer(), { maxLength: 3 }), error: fc.anything() }),
    fc.anything(),
  );

  it('reads back the NaN and ±Infinity that JSON cannot carry', async () => {
    const sent = {
      type: ANSWER,
      ids: [1],
      families: [
        {
          kind: 'metric',
          name: 'lag_seconds',
          help: 'Lag.',
          type: 'gauge',
          aggregator: 'first',
          bounds: [],
          labels: [{ at: 'start' }, { at: 'high' }, { at: 'low' }],
          values: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(toWire),
        },
      ],
    };
    const answer = readAnswer(JSON.parse(JSON.stringify(sent)));
    if (answer?.families === undefined) throw new Error('not read');
    const ledger = new ClusterLedger({ warn() {} });
    ledger.record(1, answer.families);
    const body = await renderMetrics(ledger.registry([1], new Set([1])), false);
    expect(body).toContain('lag_seconds{at="start"} Nan\nlag_seconds{at="high"} +Inf\nlag_seconds{at="low"} -Inf\n');
    expect(readAnswer({ ...sent, families: [{ ...sent.families[0], values: [null, 1, 2] }] })).toBeUndefined();
  });

  it('never throws, and whatever it accepts the ledger records and renders in both formats', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 4 }), async (messages) => {
        const ledger = new ClusterLedger({ warn() {} });
        let worker = 0;
        for (const sent of messages) {
          worker += 1;
          // What arrives is what JSON makes of it (Node's default IPC serialization).
          const json = JSON.stringify(sent);
          const answer = readAnswer(json === undefined ? undefined : JSON.parse(json));
          if (answer?.families !== undefined) {
            ledger.record(worker, answer.families);
            accepted += 1;
          }
        }
        const workers = Array.from({ length: worker }, (_, i) => i + 1);
        const registry = ledger.registry(workers, new Set(workers));
        await renderMetrics(registry, false);
        await renderMetrics(registry, true);
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(60); // the check is not just refusing everything
  });
});
