import { type Metric, Registry } from 'prom-client';
import { NativeBuckets, type NativeSettings } from '../native-histogram.js';
import type { AnyRegistry, Logger } from '../options.js';
import { type HistogramSeries, HistogramStore, type ValueSeries, ValueStore } from '../store.js';
import {
  type MetricFamily,
  type StoreFamily,
  strideOf,
  type WireFamily,
  type WireLabels,
  type WireSample,
} from './protocol.js';

/**
 * The primary's memory of its workers, and the registry each scrape serves from it.
 *
 * Counters and histograms never go down. The primary keeps each worker's last answer. A worker that does
 * not answer a scrape is served with its last values; a worker that exits has its last values moved into
 * the `retained` part of each series, and so does a worker whose value for a series went back (its
 * registry was reset) or which stopped reporting a series. A series' value is its retained part plus every
 * live worker's last value, so neither a hang, nor a crash, nor a restart from zero lowers it. State is
 * bounded: one answer per live worker, and one retained value per series ever seen.
 *
 * Gauges say what is true now, so they come only from the workers that answered this scrape. They are
 * combined by their prom-client `aggregator` (summed by default) except where a combination means
 * nothing: `average` and `omit` gauges (the event-loop lag percentiles, the process start time) and
 * `process_max_fds` are served per worker, with a `worker` label, and so are summaries, whose quantiles
 * cannot be added up. Exemplars are not sent by the workers: a sum has no single request to point at.
 */
export class ClusterLedger {
  private readonly families = new Map<string, Family>();
  private readonly workers = new Map<number, Map<string, Recorded>>();
  /** Families a worker reported with another shape than the first one seen, each warned about once. */
  private readonly conflicts = new Set<string>();
  private mark = 0;

  constructor(private readonly logger: Logger) {}

  /**
   * A worker's answer, newer than any it gave before. False, and nothing recorded, when a store leaves out
   * labels or values this ledger does not have: the answer was relative to one it has not recorded.
   */
  record(worker: number, answer: readonly WireFamily[]): boolean {
    const previous = this.workers.get(worker);
    const accepted = new Map<string, [WireFamily, Family]>();
    for (const sent of answer) {
      if (accepted.has(sent.name)) continue; // the same name in two of its registries: the first is served
      const family = this.familyOf(sent, worker);
      if (family === undefined) continue;
      const wire = resolveStore(sent, previous?.get(sent.name)?.wire);
      if (wire === undefined) return false;
      accepted.set(sent.name, [wire, family]);
    }
    const mark = ++this.mark;
    const recorded = new Map<string, Recorded>();
    for (const [name, [wire, family]] of accepted) {
      recorded.set(name, { wire, entries: family.monotonic?.entriesOf(wire, mark, previous?.get(name)) });
    }
    if (previous !== undefined) {
      for (const [name, before] of previous) {
        if (before.entries !== undefined) retainWhatWentBack(before, recorded.get(name), mark);
      }
    }
    this.workers.set(worker, recorded);
    return true;
  }

  /** A worker exited: its last counter and histogram values stay in the totals for good. */
  retire(worker: number): void {
    const recorded = this.workers.get(worker);
    if (recorded === undefined) return;
    for (const { wire, entries } of recorded.values()) {
      entries?.forEach((entry, i) => {
        retain(entry, wire, i);
      });
    }
    this.workers.delete(worker);
  }

  /** The registry of one scrape, in which the workers in `asked` were asked and those in `answered` answered. */
  registry(asked: readonly number[], answered: ReadonlySet<number>): AnyRegistry {
    for (const family of this.families.values()) family.monotonic?.startTotals();
    for (const recorded of this.workers.values()) {
      for (const { wire, entries } of recorded.values()) if (entries !== undefined) addValues(wire, entries);
    }
    const current = asked.filter((worker) => answered.has(worker));
    const registry = new Registry();
    const register = (metric: object) => registry.registerMetric(metric as Metric);
    for (const [name, family] of this.families) {
      if (family.monotonic !== undefined) {
        register(family.monotonic.render());
        continue;
      }
      const answers = current.flatMap((worker) => {
        const recorded = this.workers.get(worker)?.get(name);
        return recorded === undefined ? [] : [{ worker, wire: recorded.wire }];
      });
      register(currentFamily(family.shape, answers));
    }
    const gauge = (name: string, help: string, values: WireSample[]) =>
      register(new SampleList(name, help, 'gauge', values));
    gauge('routemeter_cluster_workers', 'Cluster workers asked for their metrics in this scrape.', [
      { labels: {}, value: asked.length },
    ]);
    gauge('routemeter_cluster_workers_answered', 'Cluster workers whose metrics in this scrape are current.', [
      { labels: {}, value: current.length },
    ]);
    gauge(
      'routemeter_cluster_worker_stale',
      '1 for a worker that did not answer this scrape: its last counter and histogram values are served, its gauges left out.',
      asked.map((worker) => ({ labels: { worker: String(worker) }, value: answered.has(worker) ? 0 : 1 })),
    );
    return registry;
  }

  /** The family of this name, created from its first answer; undefined if this one has another shape. */
  private familyOf(wire: WireFamily, worker: number): Family | undefined {
    const family = this.families.get(wire.name);
    if (family === undefined) {
      const created: Family = {
        shape: wire,
        monotonic: wire.kind !== 'samples' && wire.type !== 'gauge' ? new Totals(wire) : undefined,
      };
      this.families.set(wire.name, created);
      return created;
    }
    if (sameShape(family.shape, wire)) return family;
    if (!this.conflicts.has(wire.name)) {
      this.conflicts.add(wire.name);
      this.logger.warn(
        `routemeter: cluster worker ${worker} reports metric ${wire.name} with other labels, buckets or type than ` +
          'the first worker that reported it; its values are left out of the sum',
      );
    }
    return undefined;
  }
}

interface Family {
  /** The first answer of this name: what every later one must look like. */
  readonly shape: WireFamily;
  readonly monotonic: Totals | undefined;
}

/** One family of a worker's last answer, and for counters and histograms the entry of each of its series. */
interface Recorded {
  readonly wire: WireFamily;
  readonly entries: readonly Entry[] | undefined;
}

/** One series of a counter or histogram, across the cluster. */
interface Entry {
  readonly labels: readonly string[] | WireLabels;
  /** What exited workers, and workers whose value went back, last reported. */
  readonly retained: Float64Array;
  /** `retained` plus every live worker's last values. */
  readonly total: Float64Array;
  /** The store series it is rendered as, for routemeter's stores. */
  readonly series: ValueSeries | HistogramSeries | undefined;
  /** `retained` and `total` of a histogram's native buckets, merged at the coarsest schema reported. */
  readonly nativeRetained: NativeBuckets | undefined;
  readonly nativeTotal: NativeBuckets | undefined;
  /** Which answer last reported this series, and where in it: scratch for {@link retainWhatWentBack}. */
  mark: number;
  position: number;
}

type MonotonicWire = Exclude<WireFamily, { kind: 'samples' }>;

/** The series of a counter or histogram family. routemeter's stores stay stores, rendered as fast as a worker's. */
class Totals {
  private readonly entries = new Map<string, Entry>();
  private readonly stride: number;
  private readonly store: ValueStore | HistogramStore | undefined;
  private readonly native: NativeSettings | undefined;

  constructor(private readonly shape: MonotonicWire) {
    this.stride = strideOf(shape);
    if (shape.kind === 'store') {
      this.native = shape.native === undefined ? undefined : { ...shape.native, minResetInterval: undefined };
      this.store =
        shape.type === 'histogram'
          ? new HistogramStore(shape.name, shape.help, shape.labelNames, shape.bounds, this.native)
          : new ValueStore('counter', shape.name, shape.help, shape.labelNames);
    }
  }

  /**
   * The entry of each series of an answer, created on first sight, marked as reported by this answer. A series
   * whose labels are the very row of the worker's previous answer (left out, then filled in from it) has the
   * entry it had there, without a lookup.
   */
  entriesOf(wire: WireFamily, mark: number, before: Recorded | undefined): Entry[] {
    const known = (before?.wire as MonotonicWire | undefined)?.labels;
    return (wire as MonotonicWire).labels.map((labels, position) => {
      const entry = (known?.[position] === labels ? before?.entries?.[position] : undefined) ?? this.entryOf(labels);
      entry.mark = mark;
      entry.position = position;
      return entry;
    });
  }

  private entryOf(labels: readonly string[] | WireLabels): Entry {
    const key = Array.isArray(labels) ? labels.join('\u0000') : labelsKey(labels as WireLabels);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = {
        labels,
        retained: new Float64Array(this.stride),
        total: new Float64Array(this.stride),
        series: this.store?.seriesFor(labels as string[]),
        nativeRetained: this.native === undefined ? undefined : new NativeBuckets(this.native),
        nativeTotal: this.native === undefined ? undefined : new NativeBuckets(this.native),
        mark: 0,
        position: 0,
      };
      this.entries.set(key, entry);
    }
    return entry;
  }

  startTotals(): void {
    for (const entry of this.entries.values()) {
      entry.total.set(entry.retained);
      if (entry.nativeRetained !== undefined) entry.nativeTotal?.copyFrom(entry.nativeRetained);
    }
  }

  /** The family as a registry renders it, from the totals. */
  render(): object {
    const { shape } = this;
    const buckets = shape.bounds.length + 1;
    if (this.store !== undefined) {
      for (const { series, total, nativeTotal } of this.entries.values()) {
        if (shape.type === 'histogram') {
          const histogram = series as HistogramSeries;
          histogram.counts.set(total.subarray(0, buckets));
          histogram.sum = total[buckets] as number;
          histogram.count = total[buckets + 1] as number;
          if (nativeTotal !== undefined) histogram.native?.copyFrom(nativeTotal);
        } else {
          (series as ValueSeries).value = total[0] as number;
        }
      }
      return this.store;
    }
    const samples: WireSample[] = [];
    for (const { labels, total } of this.entries.values()) {
      const own = labels as WireLabels;
      if (shape.type !== 'histogram') {
        samples.push({ labels: own, value: total[0] as number });
        continue;
      }
      // As prom-client's histogram lays its samples out: cumulative buckets with `le` first, sum, count.
      let cumulative = 0;
      for (let i = 0; i < buckets; i++) {
        cumulative += total[i] as number;
        samples.push({
          metricName: `${shape.name}_bucket`,
          labels: { le: i < shape.bounds.length ? (shape.bounds[i] as number) : '+Inf', ...own },
          value: cumulative,
        });
      }
      samples.push({ metricName: `${shape.name}_sum`, labels: own, value: total[buckets] as number });
      samples.push({ metricName: `${shape.name}_count`, labels: own, value: total[buckets + 1] as number });
    }
    return new SampleList(shape.name, shape.help, shape.type, samples);
  }
}

/**
 * A family that prom-client renders from its samples, the way it renders its own metrics' `get()`.
 * `get()` reads `this.name`, so the OpenMetrics view of a counter (named without `_total`) renders as a
 * single process's counter does.
 */
class SampleList {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: string,
    readonly values: readonly WireSample[],
  ) {}

  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }
}

/**
 * A store answer in full: the labels and values it left out are those of the worker's previous answer (the
 * label rows are the same arrays, which {@link Totals.entriesOf} recognizes). Undefined if that answer is
 * not at hand, or lacks a series the new one did not describe.
 */
function resolveStore(sent: WireFamily, before: WireFamily | undefined): WireFamily | undefined {
  if (sent.kind !== 'store' || (sent.labelsFrom === 0 && sent.changed === undefined)) return sent;
  if (before?.kind !== 'store' || before.labels.length < sent.labelsFrom) return undefined;
  const labels = [...before.labels.slice(0, sent.labelsFrom), ...sent.labels];
  const { changed } = sent;
  if (changed === undefined) return { ...sent, labelsFrom: 0, labels };
  const stride = strideOf(sent);
  const values = new Array<number>(sent.series * stride);
  const natives = sent.natives === undefined ? undefined : new Array<readonly number[]>(sent.series);
  let next = 0;
  for (let i = 0; i < sent.series; i++) {
    let source = before.values;
    let from = i * stride;
    if (changed[next] === i) {
      source = sent.values;
      from = next++ * stride;
      if (natives !== undefined) natives[i] = sent.natives?.[next - 1] as readonly number[];
    } else if (i >= before.labels.length) {
      return undefined;
    } else if (natives !== undefined) {
      const kept = before.natives?.[i];
      if (kept === undefined) return undefined;
      natives[i] = kept;
    }
    for (let k = 0; k < stride; k++) values[i * stride + k] = source[from + k] as number;
  }
  const { changed: _, ...full } = sent;
  return { ...full, labelsFrom: 0, labels, values, ...(natives === undefined ? {} : { natives }) };
}

/** Moves into `retained` the last values of series the worker's new answer lowered or no longer reports. */
function retainWhatWentBack(before: Recorded, now: Recorded | undefined, mark: number): void {
  const { wire } = before;
  const entries = before.entries as readonly Entry[];
  const stride = strideOf(wire as MonotonicWire);
  const old = (wire as MonotonicWire).values;
  const next = (now?.wire as MonotonicWire | undefined)?.values;
  entries.forEach((entry, i) => {
    if (entry.mark !== mark || next === undefined || wentBack(old, i * stride, next, entry.position * stride, stride)) {
      retain(entry, wire, i);
    }
  });
}

/** Whether any counted value is lower than before: a counter, or a histogram's buckets or count (not its sum). */
function wentBack(old: readonly number[], from: number, next: readonly number[], at: number, stride: number): boolean {
  const sum = stride - 2;
  for (let k = 0; k < stride; k++) {
    if (stride > 1 && k === sum) continue;
    if ((next[at + k] as number) < (old[from + k] as number)) return true;
  }
  return false;
}

function retain(entry: Entry, wire: WireFamily, i: number): void {
  const values = (wire as MonotonicWire).values;
  const stride = entry.retained.length;
  for (let k = 0; k < stride; k++)
    entry.retained[k] = (entry.retained[k] as number) + (values[i * stride + k] as number);
  addNative(entry.nativeRetained, wire, i);
}

/** Series i's native buckets of a store answer into `into`, if both are there. */
function addNative(into: NativeBuckets | undefined, wire: WireFamily, i: number): void {
  const buckets = (wire as StoreFamily).natives?.[i];
  if (into !== undefined && buckets !== undefined) into.add(buckets);
}

function addValues(wire: WireFamily, entries: readonly Entry[]): void {
  const values = (wire as MonotonicWire).values;
  entries.forEach((entry, i) => {
    const { total } = entry;
    const from = i * total.length;
    for (let k = 0; k < total.length; k++) total[k] = (total[k] as number) + (values[from + k] as number);
    addNative(entry.nativeTotal, wire, i);
  });
}

/** Gauges whose combination across workers means nothing: served per worker instead. */
const PER_WORKER_AGGREGATORS = new Set(['average', 'omit']);
const perWorker = (name: string, aggregator: string) =>
  PER_WORKER_AGGREGATORS.has(aggregator) || !(aggregator in COMBINE) || name.endsWith('process_max_fds');

const COMBINE: Readonly<Record<string, (a: number, b: number) => number>> = {
  sum: (a, b) => a + b,
  min: Math.min,
  max: Math.max,
  first: (a) => a,
};

/** A gauge or samples family from the answers of this scrape only. */
function currentFamily(shape: WireFamily, answers: readonly { worker: number; wire: WireFamily }[]): object {
  if (shape.kind === 'store') {
    // routemeter's own gauge (requests in flight): a sum over the workers that answered.
    const store = new ValueStore('gauge', shape.name, shape.help, shape.labelNames);
    for (const { wire } of answers) {
      const { labels, values } = wire as typeof shape;
      labels.forEach((labelValues, i) => {
        const series = store.seriesFor(labelValues);
        series.value += values[i] as number;
      });
    }
    return store;
  }
  const withWorker = (labels: WireLabels, worker: number): WireLabels => ({ ...labels, worker: String(worker) });
  if (shape.kind === 'samples' || perWorker(shape.name, shape.aggregator)) {
    const samples = answers.flatMap(({ worker, wire }) =>
      wire.kind === 'samples'
        ? wire.samples.map((sample) => ({ ...sample, labels: withWorker(sample.labels, worker) }))
        : (wire as MetricFamily).labels.map((labels, i) => ({
            labels: withWorker(labels, worker),
            value: (wire as MetricFamily).values[i] as number,
          })),
    );
    return new SampleList(shape.name, shape.help, shape.type, samples);
  }
  const combine = COMBINE[shape.aggregator] as (a: number, b: number) => number;
  const byLabels = new Map<string, { labels: WireLabels; value: number }>();
  for (const { wire } of answers) {
    const { labels, values } = wire as typeof shape;
    labels.forEach((own, i) => {
      const key = labelsKey(own);
      const value = values[i] as number;
      const sample = byLabels.get(key);
      if (sample === undefined) byLabels.set(key, { labels: own, value });
      else sample.value = combine(sample.value, value);
    });
  }
  return new SampleList(shape.name, shape.help, shape.type, [...byLabels.values()]);
}

/** The identity of a labels object, whatever the order of its names. */
function labelsKey(labels: WireLabels): string {
  const names = Object.keys(labels).sort();
  let key = '';
  for (const name of names) key += `${name}\u0000${labels[name]}\u0000`;
  return key;
}

function sameShape(a: WireFamily, b: WireFamily): boolean {
  if (a.kind !== b.kind || a.type !== b.type) return false;
  if (a.kind === 'samples' || b.kind === 'samples') return true;
  const sameList = (x: readonly unknown[], y: readonly unknown[]) =>
    x.length === y.length && x.every((item, i) => item === y[i]);
  if (!sameList(a.bounds, b.bounds)) return false;
  if (a.kind !== 'store') return true;
  const other = b as typeof a;
  return sameList(a.labelNames, other.labelNames) && JSON.stringify(a.native) === JSON.stringify(other.native);
}
