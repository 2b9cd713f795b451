import { routemeter } from './middleware.js';

export {
  CLIENT_CLOSED_STATUS,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  OTHER_METHOD,
  OVERFLOW_ROUTE,
  RoutemeterMetricConflictError,
  RoutemeterOptionError,
  UNMATCHED_ROUTE,
} from '@routemeter/core';
export { type KoaRoutemeterOptions, type RoutemeterMiddleware, routemeter } from './middleware.js';
export { routeTemplate } from './route-template.js';
export default routemeter;
