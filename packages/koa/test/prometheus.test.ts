import Router from '@koa/router';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

let served: Served;
let prometheus: RunningPrometheus;

beforeAll(async () => {
  served = await serve((app) => {
    const users = new Router({ prefix: '/orgs/:org/users' });
    users.get('/:id', (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    app.use(users.routes());
  });
  prometheus = await startPrometheus([{ job: 'koa', port: served.port }]);
});

afterAll(async () => {
  await prometheus?.stop();
  await served?.close();
});

it('a real Prometheus scrapes the app and counts exactly the requests sent', async () => {
  const sent = 37;
  for (let i = 0; i < sent; i++) await served.send(`/orgs/acme/users/${i}`);
  await served.send('/nowhere');
  await prometheus.waitForScrapes(Date.now() + 100);
  const [total] = await prometheus.query('sum(http_requests_total{route="/orgs/:org/users/:id"})');
  expect(Number(total?.value[1])).toBe(sent);
  const [unmatched] = await prometheus.query('sum(http_requests_total{route="#unmatched",status_code="404"})');
  expect(Number(unmatched?.value[1])).toBe(1);
  const [scrapes] = await prometheus.query('sum(http_requests_total{route="/metrics"})');
  expect(scrapes).toBeUndefined();
});
