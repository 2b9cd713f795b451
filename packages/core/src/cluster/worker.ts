import cluster from 'node:cluster';
import type { AnyRegistry } from '../options.js';
import {
  type HistogramSeries,
  type HistogramStore,
  isStore,
  seriesVersion,
  type ValueSeries,
  type ValueStore,
} from '../store.js';
import {
  ANSWER,
  type Answer,
  isRequest,
  type MetricFamily,
  type SampleFamily,
  type StoreFamily,
  toWire,
  type WireFamily,
  type WireLabels,
  type WireNumber,
  type WireSample,
} from './protocol.js';

/**
 * The worker's half: answer the primary's requests with the metrics of every registry routemeter records
 * into. The registries live on `globalThis` under a registered symbol, so that two copies of routemeter in
 * one worker (its ESM and CommonJS builds, say) answer once, with both copies' registries.
 */
const SHARED = Symbol.for('routemeter.cluster.registries');

/** How many routemeters of this copy share each registry, so that closing one leaves it to the others. */
const sharers = new Map<AnyRegistry, number>();

/**
 * In a cluster worker, makes this registry's metrics available to the primary, until the returned
 * function is called (by the last routemeter sharing it). Idempotent; a no-op elsewhere.
 */
export function shareWithPrimary(registry: AnyRegistry): () => void {
  if (!cluster.isWorker) return () => {};
  const holder = globalThis as { [SHARED]?: Set<AnyRegistry> };
  let registries = holder[SHARED];
  if (registries === undefined) {
    registries = new Set();
    holder[SHARED] = registries;
    answerPrimary(registries);
  }
  const shared = registries;
  shared.add(registry);
  sharers.set(registry, (sharers.get(registry) ?? 0) + 1);
  let sharing = true;
  return function stopSharing() {
    if (!sharing) return;
    sharing = false;
    const left = (sharers.get(registry) ?? 1) - 1;
    if (left > 0) sharers.set(registry, left);
    else {
      sharers.delete(registry);
      shared.delete(registry);
    }
  };
}

function answerPrimary(registries: ReadonlySet<AnyRegistry>): void {
  // Requests that arrive while a collection runs share its answer: a worker that was stalled answers the
  // requests that piled up once, not once each.
  let waiting: number[] | undefined;
  let last: Sent | undefined;
  process.on('message', function onMetricsRequest(message: unknown) {
    if (!isRequest(message)) return;
    if (waiting !== undefined) {
      waiting.push(message.id);
      return;
    }
    const ids = [message.id];
    waiting = ids;
    // What was sent already can be left out only if the primary has the answer it was sent in: the last one.
    const { basis } = message;
    const before = basis !== undefined && last?.ids.includes(basis) ? last.stores : undefined;
    const stores: SentStores = new WeakMap();
    collectFamilies(registries, before, stores).then(
      (families) => {
        last = { ids, stores };
        const partial = families.some(
          (family) => family.kind === 'store' && (family.labelsFrom > 0 || family.changed !== undefined),
        );
        reply({ type: ANSWER, ids, ...(partial && basis !== undefined ? { basis } : {}), families });
      },
      (error: unknown) => reply({ type: ANSWER, ids, error: error instanceof Error ? error.message : String(error) }),
    );
  });

  function reply(answer: Answer<WireNumber>): void {
    waiting = undefined;
    // With a callback, a failed send (the primary is gone or going) is reported to it instead of being
    // emitted as an 'error' that would crash this worker. There is nobody left to tell.
    process.send?.(answer, undefined, undefined, ignoreSendFailure);
  }
}

/** The worker's last answer: the requests it answered, and what it said of each store. */
interface Sent {
  readonly ids: readonly number[];
  readonly stores: SentStores;
}
type SentStores = WeakMap<ValueStore | HistogramStore, SentStore>;

function ignoreSendFailure(): void {}

type Defaults = Readonly<Record<string, string | number>>;

async function collectFamilies(
  registries: ReadonlySet<AnyRegistry>,
  before: SentStores | undefined,
  after: SentStores,
): Promise<WireFamily<WireNumber>[]> {
  const families: WireFamily<WireNumber>[] = [];
  for (const registry of registries) {
    // prom-client keeps default labels privately; a single process renders them on every sample.
    const defaults = (registry as unknown as { _defaultLabels?: Defaults })._defaultLabels ?? {};
    const metrics: unknown[] = registry.getMetricsAsArray();
    // A metric's get() runs its collect() callback: user code, which may throw or reject.
    const encoded = await Promise.all(
      metrics.map((metric) =>
        isStore(metric)
          ? storeFamily(metric, defaults, before?.get(metric), after)
          : Promise.resolve()
              .then(() => (metric as PromClientMetric).get())
              .then((data) => metricFamily(metric as PromClientMetric, data, defaults)),
      ),
    );
    families.push(...encoded);
  }
  return families;
}

/** What a store's last answer sent: its series in order, a version of each one's values, and the default labels. */
interface SentStore {
  readonly series: readonly object[];
  readonly versions: readonly number[];
  readonly generation: number;
  readonly defaults: string;
}

/**
 * A store as sent: what changed since the last answer (`before`), if the primary has it. The labels of the
 * first series are left out while they are where they were, with the same default labels (series are only
 * ever added), and the values of the series whose version is unchanged. `after` gets what this answer
 * describes, for the next one.
 */
function storeFamily(
  store: ValueStore | HistogramStore,
  defaults: Defaults,
  before: SentStore | undefined,
  after: SentStores,
): StoreFamily<WireNumber> {
  const extra = Object.entries(defaults).filter(([name]) => !store.labelNames.includes(name));
  const extraValues = extra.map(([, value]) => String(value));
  const all: (ValueSeries | HistogramSeries)[] = [...store.series.values()];
  // A store's reset bumps its generation, which tells what an unchanged version might hide.
  const versions = all.map(seriesVersion);
  const defaultsKey = JSON.stringify(extra);
  let labelsFrom = 0;
  if (before !== undefined && before.defaults === defaultsKey) {
    const known = Math.min(before.series.length, all.length);
    while (labelsFrom < known && all[labelsFrom] === before.series[labelsFrom]) labelsFrom++;
  }
  after.set(store, { series: all, versions, generation: store.generation, defaults: defaultsKey });
  const sameValues = before?.generation === store.generation;
  const labels: string[][] = [];
  const changed: number[] = [];
  const values: WireNumber[] = [];
  const histogram = store.type === 'histogram';
  const native = histogram ? (store as HistogramStore).native : undefined;
  const natives: number[][] = [];
  all.forEach((series, i) => {
    if (i >= labelsFrom) {
      const own = store.labelNames.map((name) => series.labels[name] as string);
      labels.push(extraValues.length === 0 ? own : [...own, ...extraValues]);
    } else if (sameValues && Object.is(versions[i], before?.versions[i])) {
      return;
    }
    changed.push(i);
    if (histogram) {
      const { counts, sum, count } = series as HistogramSeries;
      for (const bucket of counts) values.push(toWire(bucket));
      values.push(toWire(sum), toWire(count));
      const buckets = (series as HistogramSeries).native;
      if (buckets !== undefined) natives.push(buckets.toWire());
    } else {
      values.push(toWire((series as ValueSeries).value));
    }
  });
  return {
    kind: 'store',
    name: store.name,
    help: store.help,
    type: store.type,
    labelNames: [...store.labelNames, ...extra.map(([name]) => name)],
    bounds: histogram ? (store as HistogramStore).upperBounds : [],
    series: all.length,
    labelsFrom,
    labels,
    ...(changed.length === all.length ? {} : { changed }),
    values,
    ...(native === undefined
      ? {}
      : {
          native: { schema: native.schema, maxBuckets: native.maxBuckets, zeroThreshold: native.zeroThreshold },
          natives,
        }),
  };
}

/** What prom-client's metrics (and anything registered like them) give: `get()` and the histogram's bounds. */
interface PromClientMetric {
  readonly upperBounds?: unknown;
  get(): Promise<MetricData> | MetricData;
}
interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator?: string;
  readonly values?: readonly WireSample[];
}

/** Labels as a single process renders them: the sample's own, then the registry's defaults it lacks. */
function withDefaults(labels: WireLabels, defaults: Defaults): WireLabels {
  return { ...labels, ...defaults, ...labels };
}

function metricFamily(
  metric: PromClientMetric,
  data: MetricData,
  defaults: Defaults,
): MetricFamily<WireNumber> | SampleFamily<WireNumber> {
  const { name, help, type, aggregator = 'sum', values = [] } = data;
  if (type === 'counter' || type === 'gauge') {
    return {
      kind: 'metric',
      name,
      help,
      type,
      aggregator,
      bounds: [],
      labels: values.map((sample) => withDefaults(sample.labels ?? {}, defaults)),
      values: values.map((sample) => toWire(sample.value)),
    };
  }
  if (type === 'histogram' && isBounds(metric.upperBounds)) {
    const family = histogramFamily(name, help, aggregator, metric.upperBounds, values, defaults);
    if (family !== undefined) return family;
  }
  const samples = values.map(({ metricName, labels, value }) => ({
    ...(metricName === undefined ? {} : { metricName }),
    labels: withDefaults(labels ?? {}, defaults),
    value: toWire(value),
  }));
  return { kind: 'samples', name, help, type, samples };
}

const isBounds = (value: unknown): value is number[] =>
  Array.isArray(value) && value.every((bound) => typeof bound === 'number');

/**
 * A prom-client histogram's samples (cumulative buckets, `le` first in the labels, then `_sum` and `_count`)
 * as a store's per-bucket counts. Undefined when they are not laid out as prom-client lays them out.
 */
function histogramFamily(
  name: string,
  help: string,
  aggregator: string,
  bounds: readonly number[],
  samples: readonly WireSample[],
  defaults: Defaults,
): MetricFamily<WireNumber> | undefined {
  interface Series {
    readonly labels: WireLabels;
    readonly cumulative: number[];
    sum: number;
    count: number;
  }
  const bySeries = new Map<string, Series>();
  const bucketName = `${name}_bucket`;
  for (const { metricName, labels: sampleLabels, value } of samples) {
    const { le, ...own } = sampleLabels ?? {};
    const labels = withDefaults(own, defaults);
    const key = JSON.stringify(labels);
    let series = bySeries.get(key);
    if (series === undefined) {
      series = { labels, cumulative: [], sum: 0, count: 0 };
      bySeries.set(key, series);
    }
    if (metricName === bucketName) {
      const expected = series.cumulative.length < bounds.length ? bounds[series.cumulative.length] : '+Inf';
      if (le !== expected) return undefined;
      series.cumulative.push(value);
    } else if (metricName === `${name}_sum`) series.sum = value;
    else if (metricName === `${name}_count`) series.count = value;
    else return undefined;
  }
  const labels: WireLabels[] = [];
  const values: WireNumber[] = [];
  for (const series of bySeries.values()) {
    if (series.cumulative.length !== bounds.length + 1) return undefined;
    labels.push(series.labels);
    let below = 0;
    for (const cumulative of series.cumulative) {
      values.push(toWire(cumulative - below));
      below = cumulative;
    }
    values.push(toWire(series.sum), toWire(series.count));
  }
  return { kind: 'metric', name, help, type: 'histogram', aggregator, bounds, labels, values };
}
