import type { Recorder, RouteRecorder } from '@routemeter/core/adapter';
import { closedStatus, pathOf } from '@routemeter/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { arrivalOf, markRecorded, RECORDED, responseOf } from './server-requests.js';

/**
 * Request decorations, declared only when needed, with primitive defaults so every request object keeps
 * one shape: whether the request was counted in flight (`requestsInFlight`), and its reply, which
 * `onRequestAbort` is not given but the `labels` getters and `exemplars` are.
 */
const kInFlight = Symbol('routemeter.inFlight');
const kReply = Symbol('routemeter.reply');
const kMetered = Symbol('routemeter.metered');

interface StartedRequest extends FastifyRequest {
  [kInFlight]: boolean;
  [kReply]: FastifyReply | null;
}

type Done = HookHandlerDoneFunction;

/** Whether a routemeter records this app's requests already (it is registered in it or above it). */
export function isMetered(fastify: FastifyInstance): boolean {
  return fastify.hasDecorator(kMetered);
}

/** Whether a request needs routemeter's `onRequest` hook: to count it in flight, or to keep its reply for an abort. */
export function needsOnRequest(recorder: Recorder<FastifyRequest, FastifyReply>): boolean {
  return recorder.options.requestsInFlight || callbacksTakeReply(recorder);
}

function callbacksTakeReply(recorder: Recorder<FastifyRequest, FastifyReply>): boolean {
  return recorder.options.labels.length > 0 || recorder.options.exemplars !== undefined;
}

export function declareRequestState(fastify: FastifyInstance, recorder: Recorder<FastifyRequest, FastifyReply>): void {
  fastify.decorate(kMetered, true);
  if (recorder.options.requestsInFlight) fastify.decorateRequest(kInFlight, false);
  if (callbacksTakeReply(recorder)) fastify.decorateRequest(kReply, null);
}

/** The hooks that record requests into a {@link RouteRecorder} (a route's, or the unmatched one). */
export interface RequestHooks {
  onResponse(request: FastifyRequest, reply: FastifyReply, next: Done): void;
  onRequestAbort(request: FastifyRequest, next: Done): void;
  /** Counts the request in flight and keeps its reply; only when {@link needsOnRequest}. */
  onRequest(request: FastifyRequest, reply: FastifyReply, next: Done): void;
}

/**
 * The hook factory of one routemeter. A request is decided once: excluded or not when it starts if it is
 * counted in flight (so an excluded request never shows in the gauge), otherwise when it ends; and
 * recorded once, by the first of `onResponse` and `onRequestAbort` (a reply sent after the client left
 * records nothing). Without `requestsInFlight` a matched request runs one routemeter hook, `onResponse`.
 */
export function requestHooks(
  recorder: Recorder<FastifyRequest, FastifyReply>,
): (route: RouteRecorder<FastifyRequest, FastifyReply>) => RequestHooks {
  const { requestsInFlight } = recorder.options;
  const keepsReply = callbacksTakeReply(recorder);
  const excludes = recorder.options.exclude !== undefined;
  const isExcluded = (request: FastifyRequest) => excludes && recorder.isExcluded(pathOf(request.url), request);

  return function hooksOf(route) {
    function finishOnce(request: FastifyRequest, reply: FastifyReply | null, statusCode: number, seconds: number) {
      const counted = requestsInFlight && (request as StartedRequest)[kInFlight];
      markRecorded(request.raw);
      if (!counted && isExcluded(request)) return;
      // A hook before routemeter's may have answered before its onRequest counted the request in flight.
      if (requestsInFlight && !counted)
        route.recordUnstarted(request.method, statusCode, seconds, request, reply as FastifyReply);
      else route.finish(request.method, statusCode, seconds, request, reply as FastifyReply);
    }
    return {
      onResponse: function routemeterOnResponse(request, reply, next) {
        if (arrivalOf(request.raw) !== RECORDED) finishOnce(request, reply, reply.statusCode, reply.elapsedTime / 1000);
        next();
      },
      onRequestAbort: function routemeterOnRequestAbort(request, next) {
        const arrived = arrivalOf(request.raw);
        if (arrived !== RECORDED) {
          const res = responseOf(request.raw);
          // A client that left after the response was started gets the status that was being sent.
          const status = closedStatus(res?.headersSent === true, res?.statusCode ?? 0);
          const reply = keepsReply ? (request as StartedRequest)[kReply] : null;
          finishOnce(request, reply, status, arrived === undefined ? 0 : (performance.now() - arrived) / 1000);
        }
        next();
      },
      onRequest: function routemeterOnRequest(request, reply, next) {
        const metered = request as StartedRequest;
        if (keepsReply) metered[kReply] = reply;
        if (requestsInFlight && arrivalOf(request.raw) !== RECORDED && !metered[kInFlight]) {
          if (isExcluded(request)) markRecorded(request.raw);
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
