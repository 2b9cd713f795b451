import { Counter, collectDefaultMetrics, Gauge, Histogram } from 'prom-client';
import { RoutemeterMetricConflictError } from './errors.js';
import type { AnyRegistry, ResolvedOptions } from './options.js';

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

/** The prom-client metrics one routemeter records into. */
export interface RequestMetrics {
  readonly requests: Counter | undefined;
  readonly duration: Histogram;
  readonly inFlight: Gauge | undefined;
  readonly requestSize: Histogram | undefined;
  readonly responseSize: Histogram | undefined;
  /** Label names of the per-request metrics, in order: method, route, status, then custom labels. */
  readonly labelNames: string[];
}

/** Gets or creates routemeter's metrics on the registry, so apps sharing a registry share the metrics. */
export function requestMetrics(options: ResolvedOptions<unknown, unknown>): RequestMetrics {
  const { registry, prefix, buckets, sizeBuckets } = options;
  const naming = NAMINGS[options.naming];
  const labelNames = [naming.method, naming.route, naming.status, ...options.labels.map(([name]) => name)];
  const name = (base: string) => prefix + base;

  if (options.defaultMetrics) collectDefaultMetricsOnce(registry);

  return {
    requests:
      naming.requests === undefined
        ? undefined
        : getOrCreate(registry, Counter, {
            name: name(naming.requests),
            help: 'HTTP requests served, by route template and status code.',
            labelNames,
          }),
    duration: getOrCreate(registry, Histogram, {
      name: name(naming.duration),
      help: 'Time from request start to response end (or client abort), in seconds.',
      labelNames,
      buckets,
    }),
    inFlight: options.requestsInFlight
      ? getOrCreate(registry, Gauge, {
          name: name(naming.inFlight),
          help: 'HTTP requests being served now.',
          labelNames: [naming.method],
        })
      : undefined,
    requestSize: options.requestSize
      ? getOrCreate(registry, Histogram, {
          name: name(naming.requestSize),
          help: 'Size of HTTP request bodies from their Content-Length, in bytes.',
          labelNames,
          buckets: sizeBuckets,
        })
      : undefined,
    responseSize: options.responseSize
      ? getOrCreate(registry, Histogram, {
          name: name(naming.responseSize),
          help: 'Size of HTTP response bodies from their Content-Length, in bytes.',
          labelNames,
          buckets: sizeBuckets,
        })
      : undefined,
    labelNames,
  };
}

interface MetricSpec {
  name: string;
  help: string;
  labelNames: string[];
  buckets?: number[];
}

type MetricClass<M> = new (config: MetricSpec & { registers: AnyRegistry[] }) => M;

function getOrCreate<M extends Counter | Gauge | Histogram>(
  registry: AnyRegistry,
  type: MetricClass<M>,
  spec: MetricSpec,
): M {
  const existing = registry.getSingleMetric(spec.name);
  if (existing === undefined) return new type({ ...spec, registers: [registry] });
  if (!(existing instanceof (type as unknown as typeof Counter))) {
    throw new RoutemeterMetricConflictError(spec.name, `as another type; routemeter needs a ${type.name}`);
  }
  const existingLabels = (existing as unknown as { labelNames: string[] }).labelNames;
  if (!sameMembers(existingLabels, spec.labelNames)) {
    throw new RoutemeterMetricConflictError(
      spec.name,
      `with labels [${existingLabels.join(', ')}]; routemeter needs [${spec.labelNames.join(', ')}]`,
    );
  }
  const existingBuckets = (existing as unknown as { upperBounds?: number[] }).upperBounds;
  if (spec.buckets !== undefined && existingBuckets !== undefined && !sameMembers(existingBuckets, spec.buckets)) {
    throw new RoutemeterMetricConflictError(
      spec.name,
      `with buckets [${existingBuckets.join(', ')}]; routemeter needs [${spec.buckets.join(', ')}]`,
    );
  }
  return existing as M;
}

function sameMembers(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

const registriesWithDefaultMetrics = new WeakSet<AnyRegistry>();

/** prom-client's process metrics, once per registry, and not at all if the app already collects them. */
function collectDefaultMetricsOnce(registry: AnyRegistry): void {
  if (registriesWithDefaultMetrics.has(registry)) return;
  registriesWithDefaultMetrics.add(registry);
  if (registry.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  collectDefaultMetrics({ register: registry });
}
