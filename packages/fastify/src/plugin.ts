import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import {
  CLIENT_CLOSED_STATUS,
  contentLength,
  createRoutemeter,
  pathOf,
  type RouteMeter,
  type Routemeter,
  type RoutemeterOptions,
} from '@routemeter/core';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { existingRoutes } from './route-order.js';

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

type Req = FastifyRequest;
type Res = FastifyReply;
type Done = HookHandlerDoneFunction;

/**
 * Per-request state lives in request decorations with primitive defaults, so every request object
 * keeps one shape: when it started (0 until our `onRequest` ran, {@link RECORDED} once it has been
 * recorded), whether it was counted in flight (`requestsInFlight`), and its reply, which
 * `onRequestAbort` is not given but needs for the status being sent.
 */
const kStart = Symbol('routemeter.start');
const kInFlight = Symbol('routemeter.inFlight');
const kReply = Symbol('routemeter.reply');
const RECORDED = -1;

interface MeteredRequest extends FastifyRequest {
  [kStart]: number;
  [kInFlight]: boolean;
  [kReply]: FastifyReply | null;
}

/**
 * Statuses Fastify sends by itself, before any hook runs: a bad URL (400; on Fastify 4 a path whose
 * `;`-delimited part fails to decode, such as `/a;b/%`, gets 404), too long a parameter (414), closing (503).
 */
const ANSWERED_BEFORE_HOOKS = new Set([400, 404, 414, 503]);

const sizes = {
  requestSize: (req: Req) => contentLength(req.headers['content-length']),
  // The reply is null only for a request aborted before routemeter's onRequest hook ran.
  responseSize: (res: Res | null) => (res === null ? undefined : contentLength(res.getHeader('content-length'))),
};

/** Records one finished or aborted request of a route (or of the unmatched label). */
interface Finisher {
  start(request: Req): void;
  finish(statusCode: number, seconds: number, request: Req, reply: Res | null): void;
  /** Records without touching the in-flight gauge: for a request whose start routemeter did not see. */
  record(statusCode: number, seconds: number, request: Req, reply: Res | null): void;
}

function routemeterPlugin(fastify: FastifyInstance, options: FastifyRoutemeterOptions | undefined, done: Done): void {
  if (typeof (fastify as Partial<FastifyInstance> | undefined)?.addHook !== 'function') {
    // `app.register(routemeter())`: the plugin called as a factory, with no Fastify instance.
    throw new TypeError(
      'routemeter: @routemeter/fastify is a plugin, not a factory: register it as `app.register(routemeter, options)`, not `app.register(routemeter())`',
    );
  }
  // Fastify passes `{}` when no options were given. Core validates; its RoutemeterOptionError fails the
  // registration (`await app.register(...)` rejects with it), which a throw from a callback plugin would not.
  let meter: Routemeter<Req, Res>;
  try {
    meter = createRoutemeter<Req, Res>(options, sizes);
  } catch (error) {
    done(error as Error);
    return;
  }
  const { metricsPath, requestsInFlight, logger } = meter.options;
  const excludes = meter.options.exclude !== undefined;

  if (metricsPath !== false && fastify.hasRoute({ method: 'GET', url: metricsPath })) {
    meter.close();
    done(
      new Error(
        `routemeter: this app already has a GET ${metricsPath} route${fastify.hasRequestDecorator(kStart) ? ' (routemeter is registered twice)' : ''}: register routemeter once, or set \`metricsPath\` to another path or to false`,
      ),
    );
    return;
  }
  fastify.addHook('onClose', function routemeterClose(_instance, next) {
    meter.close();
    next();
  });

  if (fastify.hasRequestDecorator(kStart)) {
    // The first registration records every request of this app (its hooks are inherited); this one
    // would count them twice, so it only serves its metricsPath.
    logger.warn(
      'routemeter: @routemeter/fastify is registered twice on one app: the first registration records every request and this one records nothing; register it once',
    );
    serveMetricsRoute(fastify, meter);
    done();
    return;
  }
  fastify.decorateRequest(kStart, 0);
  fastify.decorateRequest(kInFlight, false);
  fastify.decorateRequest(kReply, null);

  const unmetered = existingRoutes(fastify);
  if (unmetered.length > 0) {
    const examples = unmetered.slice(0, 3).join(', ');
    logger.warn(
      `routemeter: ${unmetered.length} route${unmetered.length === 1 ? ' was' : 's were'} added before routemeter was registered and ${unmetered.length === 1 ? 'is' : 'are'} not recorded (${examples}${unmetered.length > 3 ? ', …' : ''}): \`await app.register(routemeter)\` before adding routes and plugins`,
    );
  }

  /**
   * Ends one request exactly once: the first of onResponse and onRequestAbort to arrive records it,
   * later calls (a reply sent after the client left) do nothing.
   */
  function record(
    finisher: Finisher,
    request: MeteredRequest,
    reply: FastifyReply | null,
    statusCode: number,
    seconds: number,
  ): void {
    request[kStart] = RECORDED;
    if (excludes && meter.isExcluded(pathOf(request.url), request)) {
      if (request[kInFlight]) meter.method(request.method).end();
      return;
    }
    // A hook before ours may have answered before routemeter's onRequest counted it in flight.
    if (requestsInFlight && !request[kInFlight]) finisher.record(statusCode, seconds, request, reply);
    else finisher.finish(statusCode, seconds, request, reply);
  }

  function onResponseOf(finisher: Finisher) {
    return function routemeterOnResponse(request: FastifyRequest, reply: FastifyReply, next: Done): void {
      const metered = request as MeteredRequest;
      if (metered[kStart] !== RECORDED) record(finisher, metered, reply, reply.statusCode, reply.elapsedTime / 1000);
      next();
    };
  }

  function onRequestAbortOf(finisher: Finisher) {
    return function routemeterOnRequestAbort(request: FastifyRequest, next: Done): void {
      const metered = request as MeteredRequest;
      const start = metered[kStart];
      if (start !== RECORDED) {
        const reply = metered[kReply];
        // A client that left after the response was started gets the status that was being sent.
        const status = reply?.raw.headersSent === true ? reply.raw.statusCode : CLIENT_CLOSED_STATUS;
        record(finisher, metered, reply, status, start > 0 ? (performance.now() - start) / 1000 : 0);
      }
      next();
    };
  }

  function onRequestOf(finisher: Finisher) {
    return function routemeterInFlight(request: FastifyRequest, _reply: FastifyReply, next: Done): void {
      const metered = request as MeteredRequest;
      if (!metered[kInFlight]) {
        finisher.start(request);
        metered[kInFlight] = true;
      }
      next();
    };
  }

  /** Per route, once: the template, one meter per method, and hooks that close over them. */
  function meterRoute(routeOptions: RouteOptions): void {
    if (routeOptions.config?.metrics === false) return;
    const template = templateOf(routeOptions);
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
    const finisher = routeFinisher(methods, template);
    routeOptions.onResponse = prepend(routeOptions.onResponse, onResponseOf(finisher));
    routeOptions.onRequestAbort = prepend(routeOptions.onRequestAbort, onRequestAbortOf(finisher));
    if (requestsInFlight) routeOptions.onRequest = prepend(routeOptions.onRequest, onRequestOf(finisher));
  }

  function routeFinisher(methods: readonly string[], template: string): Finisher {
    if (methods.length === 1) return routeMeterFinisher(meter.route(methods[0] as string, template));
    // One route for several methods: the request's method picks its meter.
    const byMethod = new Map(methods.map((method) => [method, meter.route(method, template)]));
    const first = byMethod.get(methods[0] as string) as RouteMeter<Req, Res>;
    return {
      start(request) {
        (byMethod.get(request.method) ?? first).start();
      },
      finish(statusCode, seconds, request, reply) {
        (byMethod.get(request.method) ?? first).finish(statusCode, seconds, request, reply as Res);
      },
      record(statusCode, seconds, request, reply) {
        (byMethod.get(request.method) ?? first).record(statusCode, seconds, request, reply as Res);
      },
    };
  }

  fastify.addHook('onRoute', meterRoute);

  // Every request: its start, for requests the client abandons (no reply is timed then), and the
  // reply, whose status tells a client that left mid-response from one that left before it.
  fastify.addHook('onRequest', function routemeterOnRequest(request, reply, next) {
    const metered = request as MeteredRequest;
    metered[kStart] = performance.now();
    metered[kReply] = reply;
    next();
  });

  // Requests no route matched (Fastify's 404 handlers) get these; matched routes have their own hooks.
  const unmatched = unmatchedFinisher(meter);
  const onUnmatchedResponse = onResponseOf(unmatched);
  const onUnmatchedAbort = onRequestAbortOf(unmatched);
  const onUnmatchedRequest = onRequestOf(unmatched);
  fastify.addHook('onResponse', function routemeterOnUnmatchedResponse(request, reply, next) {
    if (request.is404) onUnmatchedResponse(request, reply, next);
    else next();
  });
  fastify.addHook('onRequestAbort', function routemeterOnUnmatchedAbort(request, next) {
    if (request.is404) onUnmatchedAbort(request, next);
    else next();
  });
  if (requestsInFlight) {
    fastify.addHook('onRequest', function routemeterOnUnmatchedRequest(request, reply, next) {
      if (request.is404) onUnmatchedRequest(request, reply, next);
      else next();
    });
  }

  countAnsweredBeforeHooks(fastify, meter);

  serveMetricsRoute(fastify, meter);
  done();
}

function serveMetricsRoute(fastify: FastifyInstance, meter: Routemeter<Req, Res>): void {
  const { metricsPath, recordScrapes } = meter.options;
  if (metricsPath === false) return;
  fastify.route({
    method: 'GET',
    url: metricsPath,
    exposeHeadRoute: true,
    // Read by @fastify/swagger and other OpenAPI generators, not by Fastify's own schema types.
    schema: { hide: true } as FastifySchema,
    config: { metrics: recordScrapes },
    handler: function routemeterServeMetrics(request, reply) {
      meter.scrape(request.headers.accept, request.headers.authorization, request).then((scrape) => {
        // A late answer (the client left, a hook answered meanwhile) is dropped, not sent twice.
        if (reply.sent || reply.raw.destroyed) return;
        reply.code(scrape.status).headers(scrape.headers).header('content-length', scrape.byteLength);
        // Fastify's HEAD route drains the payload and keeps these headers: give it nothing to render.
        reply.send(request.method === 'HEAD' ? Readable.from([]) : scrape.stream());
      }, reply.send.bind(reply));
    },
  });
}

/** Records requests of the unmatched label, by their method. */
function unmatchedFinisher(meter: Routemeter<Req, Res>): Finisher {
  return {
    start(request) {
      meter.method(request.method).start();
    },
    finish(statusCode, seconds, request, reply) {
      meter.method(request.method).finish(undefined, statusCode, seconds, request, reply as Res);
    },
    record(statusCode, seconds, request, reply) {
      meter.method(request.method).record(undefined, statusCode, seconds, request, reply as Res);
    },
  };
}

/**
 * Fastify answers a malformed URL (`/%E0%A4%A`, 400), an over-long parameter (414) and, while closing,
 * 503 itself, before creating a request: no hook sees them. A `request` listener added after Fastify's
 * own sees the response already ended and with none of the listeners Fastify adds to responses it
 * routes, and counts it under the unmatched label (duration 0: it was answered synchronously).
 * `app.inject` does not go through the server, so it does not see these.
 */
function countAnsweredBeforeHooks(fastify: FastifyInstance, meter: Routemeter<Req, Res>): void {
  const excludes = meter.options.exclude !== undefined;
  const server = fastify.server as { on?: unknown; off?: unknown } | undefined;
  if (typeof server?.on !== 'function' || typeof server.off !== 'function') return;
  const raw = fastify.server;
  // Routemeters in sibling plugins share the server: its first one counts these.
  if (serversCounted.has(raw)) return;
  serversCounted.add(raw);
  function routemeterAnsweredBeforeHooks(req: IncomingMessage, res: ServerResponse): void {
    if (res.writableEnded && res.listenerCount('error') === 0 && ANSWERED_BEFORE_HOOKS.has(res.statusCode)) {
      // No FastifyRequest exists for these: the user's callbacks are not called (see recordBare).
      if (excludes && meter.isExcluded(pathOf(req.url ?? '/'), undefined)) return;
      meter.method(req.method ?? 'GET').recordBare(res.statusCode, 0);
    }
  }
  raw.on('request', routemeterAnsweredBeforeHooks);
  fastify.addHook('onClose', function routemeterRemoveListener(_instance, next) {
    raw.off('request', routemeterAnsweredBeforeHooks);
    serversCounted.delete(raw);
    next();
  });
}

const serversCounted = new WeakSet<object>();

/**
 * The route label: Fastify's own template (`routeOptions.url`, prefix included). The trailing-slash twin
 * Fastify adds for a prefixed plugin's `/` route is labelled like the route without it, as Fastify itself
 * does in `routeOptions.config.url`; a prefix that ends in `/` keeps it.
 */
export function templateOf(routeOptions: Pick<RouteOptions, 'url'> & { routePath?: string; prefix?: string }): string {
  const { url, routePath, prefix } = routeOptions;
  if (routePath === '/' && prefix !== undefined && prefix !== '' && !prefix.endsWith('/') && url === `${prefix}/`) {
    return prefix;
  }
  return url;
}

function routeMeterFinisher(routeMeter: RouteMeter<Req, Res>): Finisher {
  return {
    start: () => routeMeter.start(),
    finish: (statusCode, seconds, request, reply) => routeMeter.finish(statusCode, seconds, request, reply as Res),
    record: (statusCode, seconds, request, reply) => routeMeter.record(statusCode, seconds, request, reply as Res),
  };
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
