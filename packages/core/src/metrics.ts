import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import { RoutemeterMetricConflictError } from './errors.js';
import type { NativeSettings } from './native-histogram.js';
import type { AnyRegistry, ResolvedOptions } from './options.js';
import { HistogramStore, isStore, ValueStore } from './store.js';

/** Metric and label names of one naming scheme. */
export interface Naming {
  /** The request counter; OpenTelemetry has none (the histogram's `_count` is the count). */
  readonly requests: string | undefined;
  readonly duration: string;
  readonly inFlight: string;
  readonly requestSize: string;
  readonly responseSize: string;
  readonly method: string;
  readonly route: string;
  readonly status: string;
}

export const NAMINGS: { readonly prometheus: Naming; readonly otel: Naming } = {
  prometheus: {
    requests: 'http_requests_total',
    duration: 'http_request_duration_seconds',
    inFlight: 'http_requests_in_flight',
    requestSize: 'http_request_size_bytes',
    responseSize: 'http_response_size_bytes',
    method: 'method',
    route: 'route',
    status: 'status_code',
  },
  otel: {
    requests: undefined,
    duration: 'http_server_request_duration_seconds',
    inFlight: 'http_server_active_requests',
    requestSize: 'http_server_request_body_size_bytes',
    responseSize: 'http_server_response_body_size_bytes',
    method: 'http_request_method',
    route: 'http_route',
    status: 'http_response_status_code',
  },
};

/** The stores one routemeter records into. */
export interface RequestMetrics {
  /** This routemeter's label names, in the order its label values are given (a shared store may differ). */
  readonly labelNames: readonly string[];
  readonly requests: ValueStore | undefined;
  readonly duration: HistogramStore;
  readonly inFlight: ValueStore | undefined;
  readonly requestSize: HistogramStore | undefined;
  readonly responseSize: HistogramStore | undefined;
}

type MetricKey = 'requests' | 'duration' | 'inFlight' | 'requestSize' | 'responseSize';

/**
 * routemeter's metrics as data: one row each, read by {@link requestMetrics}. The name comes from the naming
 * scheme under the row's key; `labels: 'request'` is method, route, status code and the custom labels.
 */
const METRICS: readonly {
  readonly key: MetricKey;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly labels: 'request' | 'method';
  readonly buckets?: 'buckets' | 'sizeBuckets';
  /** The boolean option that turns it on; always on without one. */
  readonly enabledBy?: 'requestsInFlight' | 'requestSize' | 'responseSize';
}[] = [
  {
    key: 'requests',
    type: 'counter',
    help: 'HTTP requests served, by route template and status code.',
    labels: 'request',
  },
  {
    key: 'duration',
    type: 'histogram',
    help: 'Time from request start to response end (or client abort), in seconds.',
    labels: 'request',
    buckets: 'buckets',
  },
  {
    key: 'inFlight',
    type: 'gauge',
    help: 'HTTP requests being served now.',
    labels: 'method',
    enabledBy: 'requestsInFlight',
  },
  {
    key: 'requestSize',
    type: 'histogram',
    help: 'Size of HTTP request bodies from their Content-Length, in bytes.',
    labels: 'request',
    buckets: 'sizeBuckets',
    enabledBy: 'requestSize',
  },
  {
    key: 'responseSize',
    type: 'histogram',
    help: 'Size of HTTP response bodies from their Content-Length, in bytes.',
    labels: 'request',
    buckets: 'sizeBuckets',
    enabledBy: 'responseSize',
  },
];

/** Gets or creates routemeter's metrics on the registry, so apps sharing a registry share the metrics. */
export function requestMetrics(options: ResolvedOptions<unknown, unknown>): RequestMetrics {
  const naming = NAMINGS[options.naming];
  const labelNames = [naming.method, naming.route, naming.status, ...options.labels.map(([name]) => name)];
  if (options.defaultMetrics) collectDefaultMetricsOnce(options.registry);

  const stores: Partial<Record<MetricKey, ValueStore | HistogramStore>> = {};
  for (const metric of METRICS) {
    const base = naming[metric.key];
    // The OpenTelemetry scheme has no request counter: the histogram's _count is the count.
    if (base === undefined || (metric.enabledBy !== undefined && !options[metric.enabledBy])) continue;
    const name = options.prefix + base;
    const labels = metric.labels === 'request' ? labelNames : [naming.method];
    const store =
      metric.type === 'histogram'
        ? new HistogramStore(
            name,
            metric.help,
            labels,
            options[metric.buckets ?? 'buckets'],
            options.nativeHistograms?.[metric.buckets === 'sizeBuckets' ? 'size' : 'duration'],
          )
        : new ValueStore(metric.type, name, metric.help, labels);
    stores[metric.key] = getOrCreate(options.registry, store);
  }
  return { labelNames, ...stores } as RequestMetrics;
}

/** Registers `wanted`, or returns the store already registered under its name if it has the same shape. */
function getOrCreate<S extends ValueStore | HistogramStore>(registry: AnyRegistry, wanted: S): S {
  const existing: unknown = registry.getSingleMetric(wanted.name);
  if (existing === undefined) {
    registry.registerMetric(wanted as unknown as Metric);
    return wanted;
  }
  if (!isStore(existing)) {
    throw new RoutemeterMetricConflictError(
      wanted.name,
      'by something other than routemeter; remove it or set a `prefix`',
    );
  }
  if (existing.type !== wanted.type) {
    throw new RoutemeterMetricConflictError(wanted.name, `as a ${existing.type}; routemeter needs a ${wanted.type}`);
  }
  if (!sameMembers(existing.labelNames, wanted.labelNames)) {
    throw new RoutemeterMetricConflictError(
      wanted.name,
      `with labels [${existing.labelNames.join(', ')}]; routemeter needs [${wanted.labelNames.join(', ')}]`,
    );
  }
  if (wanted instanceof HistogramStore && !sameMembers((existing as HistogramStore).upperBounds, wanted.upperBounds)) {
    throw new RoutemeterMetricConflictError(
      wanted.name,
      `with buckets [${(existing as HistogramStore).upperBounds.join(', ')}]; routemeter needs [${wanted.upperBounds.join(', ')}]`,
    );
  }
  if (wanted instanceof HistogramStore && !sameNative((existing as HistogramStore).native, wanted.native)) {
    throw new RoutemeterMetricConflictError(
      wanted.name,
      `with other native histogram settings (${nativeText((existing as HistogramStore).native)}); routemeter needs ${nativeText(wanted.native)}`,
    );
  }
  return existing as S;
}

function sameNative(a: NativeSettings | undefined, b: NativeSettings | undefined): boolean {
  return nativeText(a) === nativeText(b);
}

function nativeText(settings: NativeSettings | undefined): string {
  if (settings === undefined) return 'none';
  const { schema, maxBuckets, zeroThreshold, minResetInterval } = settings;
  return `schema ${schema}, maxBuckets ${maxBuckets}, zeroThreshold ${zeroThreshold}, minResetInterval ${minResetInterval ?? 'none'}`;
}

function sameMembers(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

/**
 * prom-client's process metrics, collected once per process into a registry of routemeter's own and
 * registered on every registry that wants them. prom-client's `collectDefaultMetrics()` per registry
 * would start a GC observer and an event-loop monitor per registry that are never stopped, keeping every
 * registry (and app) of a process alive; one shared set costs the same for one app or a thousand.
 */
let processMetrics: Registry | undefined;

/** Process metrics on the registry, unless it has them already (the app collects them, or a routemeter did). */
function collectDefaultMetricsOnce(registry: AnyRegistry): void {
  if (registry.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  yieldProcessMetrics(registry);
  for (const metric of processMetrics.getMetricsAsArray()) {
    if (registry.getSingleMetric(metric.name) === undefined) registry.registerMetric(metric as unknown as Metric);
  }
}

const kYieldsProcessMetrics = Symbol('routemeter.yieldsProcessMetrics');

/**
 * Lets the app's own `collectDefaultMetrics()` run after routemeter's on the same registry: a metric it
 * registers under the name of one of routemeter's shared process metrics replaces it, where prom-client
 * would throw "already been registered". Only routemeter's own process metrics ever give way.
 */
function yieldProcessMetrics(registry: AnyRegistry): void {
  const patched = registry as AnyRegistry & { [kYieldsProcessMetrics]?: true };
  if (patched[kYieldsProcessMetrics]) return;
  const registerMetric = registry.registerMetric;
  patched.registerMetric = function registerMetricOverRoutemeters(this: AnyRegistry, metric: Metric) {
    const name = (metric as unknown as { name: string }).name;
    const existing = this.getSingleMetric(name);
    if (existing !== undefined && existing !== metric && processMetrics?.getSingleMetric(name) === existing) {
      this.removeSingleMetric(name);
    }
    registerMetric.call(this, metric);
  };
  patched[kYieldsProcessMetrics] = true;
}
