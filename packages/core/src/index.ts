export type { BasicCredentials, MetricsAuth } from './auth.js';
export type { ClusterOptions } from './cluster/primary.js';
export { RoutemeterMetricConflictError, RoutemeterOptionError } from './errors.js';
export type { ExemplarGetter } from './exemplars.js';
export {
  createScrapeHandler,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prefersOpenMetrics,
  renderMetrics,
  type ScrapeHandler,
  type ScrapeResponse,
} from './exposition.js';
export { NAMINGS, type Naming } from './metrics.js';
export { type MetricsServer, type MetricsServerOptions, serveMetrics } from './metrics-server.js';
export {
  type AnyRegistry,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_MAX_ROUTES,
  DEFAULT_SIZE_BUCKETS,
  type LabelGetter,
  type Logger,
  type ResolvedOptions,
  type RoutemeterOptions,
} from './options.js';
export type { MethodMeter, RouteMeter, SizeReaders } from './recorder.js';
export { contentLength, pathOf } from './request-values.js';
export { CLIENT_CLOSED_STATUS, OTHER_METHOD, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './route-label.js';
export { createRoutemeter, type Routemeter } from './routemeter.js';
