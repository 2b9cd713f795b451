import { routemeter } from './plugin.js';

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
export { type FastifyRoutemeterOptions, routemeter } from './plugin.js';
export default routemeter;
