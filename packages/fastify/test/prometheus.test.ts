import { afterEach, describe, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve, standardRoutes } from './serve.js';

let served: Served | undefined;
let prometheus: RunningPrometheus | undefined;
afterEach(async () => {
  await prometheus?.stop();
  await served?.close();
  prometheus = undefined;
  served = undefined;
});

describe('a real Prometheus scraping a Fastify app', () => {
  it('reads counts whose PromQL sums equal the requests sent, by route and status', async () => {
    served = await serve(standardRoutes);
    prometheus = await startPrometheus([{ job: 'fastify', port: served.port }]);
    await prometheus.waitForScrapes();
    const paths = ['/users/1', '/users/2', '/orgs/a/repos/b', '/orgs/a/repos', '/nope', '/boom', '/teapot'];
    for (let round = 0; round < 3; round++) for (const path of paths) await served.send(path);
    await prometheus.waitForScrapes(Date.now());
    const current = prometheus;
    const value = async (expr: string) => {
      const result = await current.query(expr);
      return result.length === 0 ? undefined : Number(result[0]?.value[1]);
    };
    expect(await value('sum(http_requests_total{job="fastify"})')).toBe(paths.length * 3);
    expect(await value('sum(http_request_duration_seconds_count{job="fastify"})')).toBe(paths.length * 3);
    expect(await value('sum(http_requests_total{route="/users/:id",status_code="200"})')).toBe(6);
    expect(await value('sum(http_requests_total{route="/orgs/:org/repos/:repo"})')).toBe(3);
    expect(await value('sum(http_requests_total{route="#unmatched",status_code="404"})')).toBe(3);
    expect(await value('sum(http_requests_total{route="/boom",status_code="500"})')).toBe(3);
    // Scrapes are not counted: no series for /metrics.
    expect(await value('count(http_requests_total{route="/metrics"})')).toBeUndefined();
  });
});
