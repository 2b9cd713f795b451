import type { Recorder, RouteRecorder } from '@routemeter/core/adapter';
import { closedStatus, pathOf } from '@routemeter/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Per-request state lives in request decorations with primitive defaults, so every request object keeps
 * one shape: when it started (0 until routemeter's `onRequest` ran, {@link DONE} once it has been recorded
 * or found excluded), whether it was counted in flight (`requestsInFlight`), and its reply, which
 * `onRequestAbort` is not given but needs for the status being sent.
 */
const kStart = Symbol('routemeter.start');
const kInFlight = Symbol('routemeter.inFlight');
const kReply = Symbol('routemeter.reply');
const DONE = -1;

interface MeteredRequest extends FastifyRequest {
  [kStart]: number;
  [kInFlight]: boolean;
  [kReply]: FastifyReply | null;
}

type Done = HookHandlerDoneFunction;

/** Whether routemeter's request state is declared on this app already (it is registered in it or above it). */
export function isMetered(fastify: FastifyInstance): boolean {
  return fastify.hasRequestDecorator(kStart);
}

export function declareRequestState(fastify: FastifyInstance): void {
  fastify.decorateRequest(kStart, 0);
  fastify.decorateRequest(kInFlight, false);
  fastify.decorateRequest(kReply, null);
}

/** The hooks that record requests into a {@link RouteRecorder} (a route's, or the unmatched one). */
export interface RequestHooks {
  onResponse(request: FastifyRequest, reply: FastifyReply, next: Done): void;
  onRequestAbort(request: FastifyRequest, next: Done): void;
  /** Counts the request in flight; only with `requestsInFlight`. */
  onRequest(request: FastifyRequest, reply: FastifyReply, next: Done): void;
}

/**
 * The hook factory of one routemeter. A request is decided once: excluded or not when it starts if it is
 * counted in flight (so an excluded request never shows in the gauge), otherwise when it ends; and
 * recorded once, by the first of `onResponse` and `onRequestAbort` (a reply sent after the client left
 * records nothing).
 */
export function requestHooks(
  recorder: Recorder<FastifyRequest, FastifyReply>,
): (route: RouteRecorder<FastifyRequest, FastifyReply>) => RequestHooks {
  const { requestsInFlight } = recorder.options;
  const excludes = recorder.options.exclude !== undefined;
  const isExcluded = (request: FastifyRequest) => excludes && recorder.isExcluded(pathOf(request.url), request);

  return function hooksOf(route) {
    function finishOnce(request: MeteredRequest, reply: FastifyReply | null, statusCode: number, seconds: number) {
      const counted = request[kInFlight];
      request[kStart] = DONE;
      if (!counted && isExcluded(request)) return;
      // A hook before routemeter's may have answered before its onRequest counted the request in flight.
      if (requestsInFlight && !counted)
        route.recordUnstarted(request.method, statusCode, seconds, request, reply as FastifyReply);
      else route.finish(request.method, statusCode, seconds, request, reply as FastifyReply);
    }
    return {
      onResponse: function routemeterOnResponse(request, reply, next) {
        const metered = request as MeteredRequest;
        if (metered[kStart] !== DONE) finishOnce(metered, reply, reply.statusCode, reply.elapsedTime / 1000);
        next();
      },
      onRequestAbort: function routemeterOnRequestAbort(request, next) {
        const metered = request as MeteredRequest;
        const start = metered[kStart];
        if (start !== DONE) {
          const reply = metered[kReply];
          // A client that left after the response was started gets the status that was being sent.
          const status = closedStatus(reply?.raw.headersSent === true, reply?.raw.statusCode ?? 0);
          finishOnce(metered, reply, status, start > 0 ? (performance.now() - start) / 1000 : 0);
        }
        next();
      },
      onRequest: function routemeterInFlight(request, _reply, next) {
        const metered = request as MeteredRequest;
        if (metered[kStart] !== DONE && !metered[kInFlight]) {
          if (isExcluded(request)) metered[kStart] = DONE;
          else {
            route.start(request.method);
            metered[kInFlight] = true;
          }
        }
        next();
      },
    };
  };
}

/**
 * Every request: its start, for requests the client abandons (no reply is timed then), and its reply,
 * whose status tells a client that left mid-response from one that left before it.
 */
export function onRequestStart(request: FastifyRequest, reply: FastifyReply, next: Done): void {
  const metered = request as MeteredRequest;
  metered[kStart] = performance.now();
  metered[kReply] = reply;
  next();
}
