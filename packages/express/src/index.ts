import express from 'express';
import { routemeter } from './middleware.js';
import { recordMountPaths } from './route-template.js';

// Mount paths must be recorded before the app's routers are built, so this runs on import.
recordMountPaths(express);

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
export { type ExpressRoutemeterOptions, routemeter } from './middleware.js';
export { recordMountPaths, routeTemplate } from './route-template.js';
export default routemeter;
