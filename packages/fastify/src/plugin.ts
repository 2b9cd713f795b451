import type { RoutemeterOptions } from '@routemeter/core';
import { createRecorder, type Recorder } from '@routemeter/core/adapter';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { addMetricsRoute, metricsRouteConflict } from './metrics-route.js';
import { declareRequestState, isMetered, needsOnRequest, requestHooks } from './request-hooks.js';
import { existingRoutes } from './route-order.js';
import { templateOf } from './route-template.js';
import { watchServerRequests } from './server-requests.js';

/**
 * Options of the Fastify plugin: every core option, typed with Fastify's request and reply. `prefix`
 * (of metric names) is declared without `| undefined` like Fastify's own register option of that name
 * (a route prefix, which Fastify ignores for fastify-plugin plugins), so the two types intersect under
 * `exactOptionalPropertyTypes`.
 */
export type FastifyRoutemeterOptions = Omit<RoutemeterOptions<FastifyRequest, FastifyReply>, 'prefix'> & {
  prefix?: string;
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` keeps this route out of routemeter's metrics. */
    metrics?: boolean;
  }
}

function routemeterPlugin(
  fastify: FastifyInstance,
  options: FastifyRoutemeterOptions | undefined,
  done: HookHandlerDoneFunction,
): void {
  if (typeof (fastify as Partial<FastifyInstance> | undefined)?.addHook !== 'function') {
    // `app.register(routemeter())`: the plugin called as a factory, with no Fastify instance.
    throw new TypeError(
      'routemeter: @routemeter/fastify is a plugin, not a factory: register it as `app.register(routemeter, options)`, not `app.register(routemeter())`',
    );
  }
  // Fastify passes `{}` when no options were given. Core validates; its RoutemeterOptionError fails the
  // registration (`await app.register(...)` rejects with it), which a throw from a callback plugin would not.
  let recorder: Recorder<FastifyRequest, FastifyReply>;
  try {
    recorder = createRecorder<FastifyRequest, FastifyReply>(options);
  } catch (error) {
    done(error as Error);
    return;
  }
  const { metricsPath, logger } = recorder.options;
  const conflict = metricsRouteConflict(fastify, metricsPath, isMetered(fastify));
  if (conflict !== undefined) {
    recorder.close();
    done(conflict);
    return;
  }
  fastify.addHook('onClose', function routemeterClose(_instance, next) {
    recorder.close();
    next();
  });
  if (isMetered(fastify)) {
    // The first registration records every request of this app (its hooks are inherited); this one
    // would count them twice, so it only serves its metricsPath.
    logger.warn(
      'routemeter: @routemeter/fastify is registered twice on one app: the first registration records every request and this one records nothing; register it once',
    );
    addMetricsRoute(fastify, recorder);
    done();
    return;
  }
  declareRequestState(fastify, recorder);
  warnOfExistingRoutes(fastify, recorder);
  const hooksOf = requestHooks(recorder);
  const onRequest = needsOnRequest(recorder);

  /** Per route, once: the template, its recorder, and hooks that close over them. */
  fastify.addHook('onRoute', function meterRoute(routeOptions: RouteOptions) {
    if (routeOptions.config?.metrics === false) return;
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
    const hooks = hooksOf(recorder.route(methods, templateOf(routeOptions)));
    routeOptions.onResponse = prepend(routeOptions.onResponse, hooks.onResponse);
    routeOptions.onRequestAbort = prepend(routeOptions.onRequestAbort, hooks.onRequestAbort);
    if (onRequest) routeOptions.onRequest = prepend(routeOptions.onRequest, hooks.onRequest);
  });

  // Requests no route matched (Fastify's 404 handlers) get these; matched routes have their own hooks.
  const unmatched = hooksOf(recorder.unmatched);
  fastify.addHook('onResponse', function routemeterOnUnmatchedResponse(request, reply, next) {
    if (request.is404) unmatched.onResponse(request, reply, next);
    else next();
  });
  fastify.addHook('onRequestAbort', function routemeterOnUnmatchedAbort(request, next) {
    if (request.is404) unmatched.onRequestAbort(request, next);
    else next();
  });
  if (onRequest) {
    fastify.addHook('onRequest', function routemeterOnUnmatchedRequest(request, reply, next) {
      if (request.is404) unmatched.onRequest(request, reply, next);
      else next();
    });
  }
  watchServerRequests(fastify, recorder);
  addMetricsRoute(fastify, recorder);
  done();
}

/** Once, when routemeter registers: routes already there were added before its onRoute hook. */
function warnOfExistingRoutes(fastify: FastifyInstance, recorder: Recorder<FastifyRequest, FastifyReply>): void {
  const unmetered = existingRoutes(fastify);
  if (unmetered.length === 0) return;
  const examples = unmetered.slice(0, 3).join(', ');
  recorder.options.logger.warn(
    `routemeter: ${unmetered.length} route${unmetered.length === 1 ? ' was' : 's were'} added before routemeter was registered and ${unmetered.length === 1 ? 'is' : 'are'} not recorded (${examples}${unmetered.length > 3 ? ', …' : ''}): \`await app.register(routemeter)\` before adding routes and plugins`,
  );
}

function prepend<H>(existing: H | H[] | undefined, hook: H): H[] {
  if (existing === undefined) return [hook];
  return Array.isArray(existing) ? [hook, ...existing] : [hook, existing];
}

/**
 * Fastify plugin that times and counts every request by route template and status code, and serves
 * the registry on `metricsPath`. Register it before your routes: it meters the routes added after it,
 * in every encapsulated child plugin and prefix.
 * @throws {import('@routemeter/core').RoutemeterOptionError} at register time, naming an invalid option.
 * @example
 * import Fastify from 'fastify';
 * import { routemeter } from '@routemeter/fastify';
 *
 * const app = Fastify();
 * await app.register(routemeter);
 * app.get('/users/:id', async (request) => ({ id: request.params.id }));
 */
export const routemeter: FastifyPluginCallback<FastifyRoutemeterOptions> = fp(routemeterPlugin, {
  name: '@routemeter/fastify',
  fastify: '4.x || 5.x',
});
