import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Recorder } from '@routemeter/core/adapter';
import { pathOf } from '@routemeter/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * What routemeter notes on each raw request as the server receives it: when it arrived, and its response.
 * A request the client abandons gets only `onRequestAbort`, which is given neither (Fastify gives it no
 * reply), so they are read from the raw request then. Noting them in the server's `request` event, which
 * routemeter listens to anyway, costs two property writes instead of an `onRequest` hook per request.
 */
const kArrived = Symbol('routemeter.arrived');
const kResponse = Symbol('routemeter.response');

/** {@link arrivalOf} once the request has been recorded (or found excluded): later hooks record nothing. */
export const RECORDED = -1;

interface NotedRequest extends IncomingMessage {
  [kArrived]?: number;
  [kResponse]?: ServerResponse;
}

/** When the request arrived (`performance.now()`), {@link RECORDED}, or undefined if the server never saw it (`inject`). */
export function arrivalOf(req: IncomingMessage): number | undefined {
  return (req as NotedRequest)[kArrived];
}

export function markRecorded(req: IncomingMessage): void {
  (req as NotedRequest)[kArrived] = RECORDED;
}

export function responseOf(req: IncomingMessage): ServerResponse | undefined {
  return (req as NotedRequest)[kResponse];
}

/**
 * Statuses Fastify sends by itself, before any hook runs: a bad URL (400; on Fastify 4 a path whose
 * `;`-delimited part fails to decode, such as `/a;b/%`, gets 404), too long a parameter (414), closing (503).
 */
const ANSWERED_BEFORE_HOOKS = new Set([400, 404, 414, 503]);

/**
 * Listens to the server's `request` event, once per server (routemeters in sibling plugins share it): before
 * Fastify's own listener, to note each request's arrival and response; after it, to count what Fastify
 * answered before creating a request, which no hook sees: a malformed URL (`/%E0%A4%A`, 400), an over-long
 * parameter (414) and, while closing, 503. Such a response is already ended and has none of the listeners
 * Fastify adds to responses it routes; it is counted under the unmatched label (duration 0: it was answered
 * synchronously). `app.inject` does not go through the server, so it does not see these.
 */
export function watchServerRequests(fastify: FastifyInstance, recorder: Recorder<FastifyRequest, FastifyReply>): void {
  const excludes = recorder.options.exclude !== undefined;
  const server = fastify.server as { on?: unknown; off?: unknown } | undefined;
  if (typeof server?.on !== 'function' || typeof server.off !== 'function') return;
  const raw = fastify.server;
  if (serversWatched.has(raw)) return;
  serversWatched.add(raw);
  function routemeterNoteArrival(req: IncomingMessage, res: ServerResponse): void {
    const noted = req as NotedRequest;
    noted[kArrived] = performance.now();
    noted[kResponse] = res;
  }
  function routemeterAnsweredBeforeHooks(req: IncomingMessage, res: ServerResponse): void {
    if (res.writableEnded && res.listenerCount('error') === 0 && ANSWERED_BEFORE_HOOKS.has(res.statusCode)) {
      // No FastifyRequest exists for these: the user's callbacks are not called (see recordBare).
      if (excludes && recorder.isExcluded(pathOf(req.url ?? '/'), undefined)) return;
      recorder.method(req.method ?? 'GET').recordBare(res.statusCode, 0);
    }
  }
  raw.prependListener('request', routemeterNoteArrival);
  raw.on('request', routemeterAnsweredBeforeHooks);
  fastify.addHook('onClose', function routemeterRemoveListeners(_instance, next) {
    raw.off('request', routemeterNoteArrival);
    raw.off('request', routemeterAnsweredBeforeHooks);
    serversWatched.delete(raw);
    next();
  });
}

const serversWatched = new WeakSet<object>();
