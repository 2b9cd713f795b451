/**
 * routemeter's own metric storage, registered on a prom-client registry like any prom-client metric.
 *
 * prom-client re-hashes the label set, re-validates it and allocates on every `inc()` and `observe()`,
 * even through `labels()` children: about a microsecond per request for a counter and a histogram.
 * Here a series is resolved once per label set and recording mutates it in place. The registry reads
 * the stores through the same `get()` / `getForPromString()` shape as prom-client's own metrics, so
 * rendering, `getMetricsAsJSON()`, `resetMetrics()` and cluster aggregation work unchanged.
 *
 * Members are plain properties, not #private fields: exposition renders counters through views made
 * with `Object.create(store)`, which must see them.
 */

import { NativeBuckets, type NativeSettings } from './native-histogram.js';
import { wellFormed } from './user-code.js';

/** Marks routemeter stores, so a registry shared by two copies of routemeter shares the stores too. */
const STORE_BRAND = Symbol.for('routemeter.store');

export type Labels = Readonly<Record<string, string>>;

/** The labels (a trace id, say) of one recorded request, its value and when, in seconds: OpenMetrics only. */
export interface Exemplar {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: number;
}

/** One counter or gauge series. */
export interface ValueSeries {
  readonly labels: Labels;
  value: number;
  exemplar: Exemplar | undefined;
}

/** One histogram series: per-bucket counts (not cumulative; the last slot is above every bound), sum and count. */
export interface HistogramSeries {
  readonly labels: Labels;
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** The latest exemplar of each bucket, once there is one. */
  exemplars: (Exemplar | undefined)[] | undefined;
  /** The native (sparse exponential) buckets, with the `nativeHistograms` option. */
  readonly native: NativeBuckets | undefined;
}

/** Adds one observation to a histogram series; returns the index of the classic bucket it fell in. */
export function observe(series: HistogramSeries, value: number): number {
  const bounds = series.bounds;
  let i = 0;
  while (i < bounds.length && value > (bounds[i] as number)) i++;
  series.counts[i] = (series.counts[i] as number) + 1;
  series.sum += value;
  series.count += 1;
  if (series.native !== undefined && !series.native.observe(value)) {
    // Over maxBuckets with minResetInterval passed: the series starts again from this observation.
    resetHistogram(series);
    return observe(series, value);
  }
  return i;
}

/**
 * What changes whenever a series does, for the caches of its rendering and of a cluster worker's answers: a
 * counter's or gauge's value, a histogram's count, and for native buckets also the resets `minResetInterval`
 * makes (after which the count may come back to what a cache saw).
 */
export function seriesVersion(series: ValueSeries | HistogramSeries): number {
  if (!('counts' in series)) return series.value;
  return series.native === undefined ? series.count : series.count + series.native.resets * 2 ** 32;
}

function resetHistogram(series: HistogramSeries): void {
  series.counts.fill(0);
  series.sum = 0;
  series.count = 0;
  series.exemplars = undefined;
  series.native?.reset();
}

abstract class Store<S extends { readonly labels: Labels }> {
  readonly [STORE_BRAND] = true;
  readonly aggregator = 'sum';
  readonly series = new Map<string, S>();
  /** Bumped by every reset, so text cached for a series before it is known to be stale. */
  generation = 0;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /**
   * The series of these label values, given in the order of `names` (this store's own order unless said
   * otherwise: two routemeters sharing a registry may list custom labels in different orders), created on
   * first use. Values are made well-formed first, so that strings which render alike key one series.
   * Not for the per-request path.
   */
  seriesFor(labelValues: readonly string[], names: readonly string[] = this.labelNames): S {
    const values = this.labelNames.map((name) => wellFormed(labelValues[names.indexOf(name)] ?? ''));
    // JSON keeps values apart whatever they hold (joining with a separator would not: 'x\0y','z' vs 'x','y\0z').
    const key = JSON.stringify(values);
    let found = this.series.get(key);
    if (found === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] as string;
      });
      found = this.create(labels);
      this.series.set(key, found);
    }
    return found;
  }

  protected abstract create(labels: Labels): S;

  /** Zeroes every series in place: meters keep references to them. */
  abstract reset(): void;
}

export class ValueStore extends Store<ValueSeries> {
  constructor(
    readonly type: 'counter' | 'gauge',
    name: string,
    help: string,
    labelNames: readonly string[],
  ) {
    super(name, help, labelNames);
  }

  protected create(labels: Labels): ValueSeries {
    return { labels, value: 0, exemplar: undefined };
  }

  reset(): void {
    this.generation += 1;
    for (const series of this.series.values()) {
      series.value = 0;
      series.exemplar = undefined;
    }
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: Array.from(this.series.values(), (series) => ({ labels: series.labels, value: series.value })),
    };
  }
}

export class HistogramStore extends Store<HistogramSeries> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly upperBounds: readonly number[],
    /** Native buckets' settings, when this histogram has them. */
    readonly native?: NativeSettings,
  ) {
    super(name, help, labelNames);
  }

  protected create(labels: Labels): HistogramSeries {
    return {
      labels,
      bounds: this.upperBounds,
      counts: new Float64Array(this.upperBounds.length + 1),
      sum: 0,
      count: 0,
      exemplars: undefined,
      native: this.native === undefined ? undefined : new NativeBuckets(this.native),
    };
  }

  reset(): void {
    this.generation += 1;
    for (const series of this.series.values()) resetHistogram(series);
  }

  /** prom-client's JSON shape: every sample with all its labels (`le` first on buckets). */
  get() {
    return {
      ...this.getForPromString(),
      values: this.samples((le, labels) => (le === undefined ? { ...labels } : { le, ...labels }), false),
    };
  }

  /**
   * The shape prom-client's registry renders from: each series' labels passed once as `sharedLabels`,
   * which the registry formats once per labels object and caches.
   */
  getForPromString() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.samples((le) => (le === undefined ? {} : { le }), true),
    };
  }

  private samples(
    labelsOf: (le: number | string | undefined, labels: Labels) => Record<string, unknown>,
    shared: boolean,
  ) {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, unknown>; sharedLabels?: Labels; value: number; metricName: string }[] = [];
    for (const series of this.series.values()) {
      const sharedLabels = shared ? { sharedLabels: series.labels } : {};
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += series.counts[i] as number;
        values.push({ labels: labelsOf(bound, series.labels), ...sharedLabels, value: cumulative, metricName: bucket });
      });
      values.push({
        labels: labelsOf('+Inf', series.labels),
        ...sharedLabels,
        value: series.count,
        metricName: bucket,
      });
      values.push({
        labels: labelsOf(undefined, series.labels),
        ...sharedLabels,
        value: series.sum,
        metricName: `${this.name}_sum`,
      });
      values.push({
        labels: labelsOf(undefined, series.labels),
        ...sharedLabels,
        value: series.count,
        metricName: `${this.name}_count`,
      });
    }
    return values;
  }
}

/** True for a store created by any copy of routemeter. */
export function isStore(metric: unknown): metric is ValueStore | HistogramStore {
  return typeof metric === 'object' && metric !== null && (metric as { [STORE_BRAND]?: boolean })[STORE_BRAND] === true;
}
