import type { FastifyRequest } from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { countsOf } from '../../../../test-kit/metrics-text.js';
import { type Served, serve } from '../serve.js';

// Regression: a label getter that threw inside routemeter's onResponse hook left the request uncounted
// and skipped the route's own onResponse hooks. Getters are now isolated: the request is recorded with
// the label empty, the route's hooks run, and the failure is logged once.
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
});

it("records the request and runs the route's own hooks when a label getter throws", async () => {
  const ranOwnHook: string[] = [];
  const warnings: string[] = [];
  served = await serve(
    (app) => {
      app.get('/orgs/:org', {
        onResponse: (request, _reply, done) => {
          ranOwnHook.push(request.url);
          done();
        },
        handler: async () => 'org',
      });
    },
    {
      labels: { tenant: (request: FastifyRequest) => (request.headers['x-tenant'] as string).toLowerCase() },
      logger: { warn: (message) => warnings.push(message) },
    },
  );
  expect((await served.send('/orgs/a')).status).toBe(200);
  expect((await served.send('/orgs/b', { headers: { 'x-tenant': 'ACME' } })).status).toBe(200);
  expect((await served.send('/orgs/c')).status).toBe(200);
  expect(ranOwnHook).toEqual(['/orgs/a', '/orgs/b', '/orgs/c']);
  expect(countsOf(await served.scrape(), 'tenant')).toEqual({
    'GET /orgs/:org 200 tenant=': 2,
    'GET /orgs/:org 200 tenant=acme': 1,
  });
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^routemeter: `labels.tenant` threw \(.+\); the label is left empty$/);
});
