// The user API: options, errors, label constants, rendering and serving the registry.
// Adapters are written against `@routemeter/core/adapter` (adapter.ts).
export type { BasicCredentials, MetricsAuth } from './auth.js';
export type { ClusterOptions } from './cluster/primary.js';
export { RoutemeterMetricConflictError, RoutemeterOptionError } from './errors.js';
export type { ExemplarGetter } from './exemplars.js';
export { renderMetrics } from './exposition.js';
export { CLIENT_CLOSED_STATUS, OTHER_METHOD, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './labels.js';
export { NAMINGS, type Naming } from './metrics.js';
export { type MetricsServer, type MetricsServerOptions, serveMetrics } from './metrics-server.js';
export {
  type AnyRegistry,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_MAX_ROUTES,
  DEFAULT_SIZE_BUCKETS,
  type LabelGetter,
  type Logger,
  type NativeHistogramOptions,
  type RoutemeterOptions,
} from './options.js';
