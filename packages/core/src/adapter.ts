// `@routemeter/core/adapter`: what a framework adapter needs, and nothing a user does. An adapter hooks its
// framework's lifecycle, reads the route template, and hands the recorder one record per finished request;
// every decision (labels, bounds, exclusion, the status of a closed response, scrapes) is made here.
export {
  createScrapeHandler,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  prefersOpenMetrics,
  type ScrapeFormat,
  type ScrapeHandler,
  type ScrapeResponse,
  scrapeFormat,
} from './exposition.js';
export { closedStatus } from './labels.js';
export { RECORDED_BY_ANOTHER_WARNING, UNCALLED_FACTORY_WARNING } from './misuse.js';
export type { ResolvedOptions } from './options.js';
export { createRecorder, type Recorder } from './recorder.js';
export type { MethodRecorder, RouteRecorder } from './request-recorders.js';
export { contentLength, httpSizes, pathOf } from './request-values.js';
export { onResponseClosed } from './response-closed.js';
export { writeScrape } from './send-scrape.js';
export type { SizeReaders } from './series.js';
