import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { countsOf } from '../../../../test-kit/metrics-text.js';
import { routerOptions, type Served, serve } from '../serve.js';

// Regression: Fastify answers a malformed URL (400), an over-long parameter (414) and, on Fastify 4,
// `/a;b/%` (404) before it creates a FastifyRequest. routemeter counted them by calling the user's
// callbacks with Node's raw IncomingMessage, so a getter reading `request.params` threw out of the
// server's 'request' event and one unauthenticated request killed the process. Such requests are now
// recorded without calling any user callback: custom labels are empty, `exclude` predicates not asked.
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
});

it('records requests Fastify answers before hooks without calling user callbacks', async () => {
  const called: string[] = [];
  served = await serve(
    (app) => {
      app.get('/users/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => `user ${request.params.id}`);
    },
    {
      labels: {
        id: (request: FastifyRequest) => {
          called.push(request.raw === undefined ? 'raw IncomingMessage' : 'FastifyRequest');
          return (request.params as { id: string }).id.toLowerCase();
        },
      },
      exclude: (request: FastifyRequest) => {
        called.push(request.raw === undefined ? 'raw IncomingMessage' : 'FastifyRequest');
        return false;
      },
      exemplars: (_request: FastifyRequest, reply: FastifyReply) => ({ trace_id: String(reply.statusCode) }),
    },
    routerOptions({ maxParamLength: 20 }),
  );
  const malformed = await served.send('/%E0%A4%A');
  const tooLong = await served.send(`/users/${'a'.repeat(30)}`);
  const semicolon = await served.send('/a;b/%');
  const fine = await served.send('/users/AB');
  // Fastify 5 answers all three before hooks (400, 414, 400); Fastify 4 routes the long one to a 404.
  const early = [malformed, tooLong, semicolon].map((reply) => reply.status);
  expect(early.every((status) => [400, 404, 414].includes(status))).toBe(true);
  expect(fine.status).toBe(200);
  expect(new Set(called)).toEqual(new Set(['FastifyRequest']));
  const expected: Record<string, number> = { 'GET /users/:id 200 id=ab': 1 };
  for (const status of early)
    expected[`GET #unmatched ${status} id=`] = (expected[`GET #unmatched ${status} id=`] ?? 0) + 1;
  expect(countsOf(await served.scrape(), 'id')).toEqual(expected);
});
