import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Recorder } from '@routemeter/core/adapter';
import { pathOf } from '@routemeter/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Statuses Fastify sends by itself, before any hook runs: a bad URL (400; on Fastify 4 a path whose
 * `;`-delimited part fails to decode, such as `/a;b/%`, gets 404), too long a parameter (414), closing (503).
 */
const ANSWERED_BEFORE_HOOKS = new Set([400, 404, 414, 503]);

/**
 * Fastify answers a malformed URL (`/%E0%A4%A`, 400), an over-long parameter (414) and, while closing,
 * 503 itself, before creating a request: no hook sees them. A `request` listener added after Fastify's
 * own sees the response already ended and with none of the listeners Fastify adds to responses it
 * routes, and counts it under the unmatched label (duration 0: it was answered synchronously).
 * `app.inject` does not go through the server, so it does not see these.
 */
export function countAnsweredBeforeHooks(
  fastify: FastifyInstance,
  recorder: Recorder<FastifyRequest, FastifyReply>,
): void {
  const excludes = recorder.options.exclude !== undefined;
  const server = fastify.server as { on?: unknown; off?: unknown } | undefined;
  if (typeof server?.on !== 'function' || typeof server.off !== 'function') return;
  const raw = fastify.server;
  // Routemeters in sibling plugins share the server: its first one counts these.
  if (serversCounted.has(raw)) return;
  serversCounted.add(raw);
  function routemeterAnsweredBeforeHooks(req: IncomingMessage, res: ServerResponse): void {
    if (res.writableEnded && res.listenerCount('error') === 0 && ANSWERED_BEFORE_HOOKS.has(res.statusCode)) {
      // No FastifyRequest exists for these: the user's callbacks are not called (see recordBare).
      if (excludes && recorder.isExcluded(pathOf(req.url ?? '/'), undefined)) return;
      recorder.method(req.method ?? 'GET').recordBare(res.statusCode, 0);
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
