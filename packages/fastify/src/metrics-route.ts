import { Readable } from 'node:stream';
import type { Recorder } from '@routemeter/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';

/**
 * `GET metricsPath` (and its HEAD), hidden from OpenAPI generators, recorded only with `recordScrapes`.
 * Nothing when `metricsPath` is false.
 */
export function addMetricsRoute(fastify: FastifyInstance, recorder: Recorder<FastifyRequest, FastifyReply>): void {
  const { metricsPath, recordScrapes } = recorder.options;
  if (metricsPath === false) return;
  fastify.route({
    method: 'GET',
    url: metricsPath,
    exposeHeadRoute: true,
    // Read by @fastify/swagger and other OpenAPI generators, not by Fastify's own schema types.
    schema: { hide: true } as FastifySchema,
    config: { metrics: recordScrapes },
    handler: function routemeterServeMetrics(request, reply) {
      recorder.scrape(request.headers.accept, request.headers.authorization, request).then((scrape) => {
        // A late answer (the client left, a hook answered meanwhile) is dropped, not sent twice.
        if (reply.sent || reply.raw.destroyed) return;
        reply.code(scrape.status).headers(scrape.headers).header('content-length', scrape.byteLength);
        // Fastify's HEAD route drains the payload and keeps these headers: give it nothing to render.
        reply.send(request.method === 'HEAD' ? Readable.from([]) : scrape.stream());
      }, reply.send.bind(reply));
    },
  });
}

/** Why routemeter cannot serve `metricsPath` on this app, if it cannot: the route exists already. */
export function metricsRouteConflict(
  fastify: FastifyInstance,
  metricsPath: string | false,
  registeredTwice: boolean,
): Error | undefined {
  if (metricsPath === false || !fastify.hasRoute({ method: 'GET', url: metricsPath })) return undefined;
  return new Error(
    `routemeter: this app already has a GET ${metricsPath} route${registeredTwice ? ' (routemeter is registered twice)' : ''}: register routemeter once, or set \`metricsPath\` to another path or to false`,
  );
}
