export {
  CLIENT_CLOSED_STATUS,
  OTHER_METHOD,
  OVERFLOW_ROUTE,
  RoutemeterMetricConflictError,
  RoutemeterOptionError,
  UNMATCHED_ROUTE,
} from '@routemeter/core';
export type { ExpressRoutemeterOptions } from '@routemeter/express';
export type { FastifyRoutemeterOptions } from '@routemeter/fastify';
export {
  InjectRegistry,
  type NestRoutemeterOptions,
  ROUTEMETER_OPTIONS,
  ROUTEMETER_REGISTRY,
  RoutemeterModule,
  type RoutemeterModuleAsyncOptions,
} from './module.js';
