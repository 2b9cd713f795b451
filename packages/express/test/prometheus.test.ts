import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

let served: Served;
let prometheus: RunningPrometheus;

beforeAll(async () => {
  served = await serve((app) => {
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
  });
  prometheus = await startPrometheus([{ job: 'express', port: served.port }]);
});

afterAll(async () => {
  await prometheus?.stop();
  await served?.close();
});

it('a real Prometheus scrapes the app and counts exactly the requests sent', async () => {
  const sent = 37;
  for (let i = 0; i < sent; i++) await served.send(`/users/${i}`);
  await served.send('/nowhere');
  await prometheus.waitForScrapes(Date.now() + 100);
  const [total] = await prometheus.query('sum(http_requests_total{route="/users/:id"})');
  expect(Number(total?.value[1])).toBe(sent);
  const [unmatched] = await prometheus.query('sum(http_requests_total{route="#unmatched",status_code="404"})');
  expect(Number(unmatched?.value[1])).toBe(1);
  const [observed] = await prometheus.query('sum(http_request_duration_seconds_count{route="/users/:id"})');
  expect(Number(observed?.value[1])).toBe(sent);
  const [scrapes] = await prometheus.query('sum(http_requests_total{route="/metrics"})');
  expect(scrapes).toBeUndefined();
});
