// Each example service, run as a user runs it (a child process, PORT from the environment): every route
// answers, /metrics labels each request with its route template, the business counter and the in-flight
// gauge are on the same /metrics, and SIGTERM shuts it down cleanly, releasing its port.
import { describe, expect, it } from 'vitest';
import { eventually, send } from '../test-kit/http.ts';
import { parseExposition, sampleValue, sumOf } from '../test-kit/metrics-text.ts';
import { freePort, isListening, SERVICES, startService } from './lib/stack.mjs';

// The Nest example runs on either of Nest's platforms; the default (Express) is in SERVICES.
const NESTJS = SERVICES.find((s) => s.job === 'nestjs-service');
const RUNS = [
  ...SERVICES.map((service) => ({ name: service.job, service, env: {} })),
  ...(NESTJS ? [{ name: 'nestjs-service on platform-fastify', service: NESTJS, env: { PLATFORM: 'fastify' } }] : []),
];

for (const { name, service, env } of RUNS) {
  describe(name, () => {
    it('serves every route, labels each by its template, and stops cleanly on SIGTERM', async () => {
      const port = await freePort();
      // FAIL_RATE=0: /orders fails only when asked to (?fail=1), so the counts below are exact.
      const running = await startService(service, { port, source: true, env: { ...env, FAIL_RATE: '0' } });
      try {
        const get = (path: string) => send(port, path);
        expect((await get('/users/7')).status).toBe(200);
        expect((await get('/users/8')).status).toBe(200);
        expect(JSON.parse((await get('/orgs/acme/repos/web')).body)).toEqual({ org: 'acme', repo: 'web' });
        expect((await get('/orgs/acme/repos/web/stars')).status).toBe(200);
        expect(JSON.parse((await get('/slow?ms=120')).body)).toEqual({ sleptMs: 120 });
        expect((await send(port, '/orders', { method: 'POST' })).status).toBe(201);
        expect((await send(port, '/orders', { method: 'POST' })).status).toBe(201);
        const failed = await send(port, '/orders?fail=1', { method: 'POST' });
        expect(failed.status).toBe(500);
        expect(JSON.parse(failed.body)).toMatchObject({ error: expect.any(String) });
        const stream = await get('/stream?chunks=3');
        expect(stream.headers['transfer-encoding']).toBe('chunked');
        expect(stream.body).toBe('line 1 of 3\nline 2 of 3\nline 3 of 3\n');
        expect((await get('/no/such/page')).status).toBe(404);

        const metrics = await get('/metrics');
        expect(metrics.status).toBe(200);
        const exposition = parseExposition(metrics.body);
        const count = (method: string, route: string, status: string) =>
          sampleValue(exposition, 'http_requests_total', { method, route, status_code: status });
        expect(count('GET', '/users/:id', '200')).toBe(2);
        expect(count('GET', '/orgs/:org/repos/:repo', '200')).toBe(1);
        expect(count('GET', '/orgs/:org/repos/:repo/stars', '200')).toBe(1);
        expect(count('GET', '/slow', '200')).toBe(1);
        expect(count('POST', '/orders', '201')).toBe(2);
        expect(count('POST', '/orders', '500')).toBe(1);
        expect(count('GET', '/stream', '200')).toBe(1);
        expect(count('GET', '#unmatched', '404')).toBe(1);
        // Nothing else: no raw URLs, and the scrape itself is not counted.
        expect(sumOf(exposition, 'http_requests_total')).toBe(10);
        // The slow route's duration is at least what it slept; the stream is timed to its end (3 x 20 ms).
        const seconds = (route: string) =>
          sumOf(exposition, 'http_request_duration_seconds_sum', { route }) /
          sumOf(exposition, 'http_request_duration_seconds_count', { route });
        expect(seconds('/slow')).toBeGreaterThanOrEqual(0.115);
        expect(seconds('/stream')).toBeGreaterThanOrEqual(0.04);
        expect(sampleValue(exposition, 'shop_orders_total', { outcome: 'placed' })).toBe(2);
        expect(sampleValue(exposition, 'shop_orders_total', { outcome: 'failed' })).toBe(1);
        expect(exposition.types.get('http_requests_in_flight')).toBe('gauge');
        expect(sampleValue(exposition, 'http_requests_in_flight', { method: 'GET' })).toBe(0);
        expect(exposition.types.get('process_cpu_user_seconds_total')).toBe('counter');
      } finally {
        const { code, signal } = await running.stop();
        expect({ code, signal }).toEqual({ code: 0, signal: null });
      }
      expect(running.output()).toContain('shutting down');
      expect(await isListening(port)).toBe(false);
    });

    it('finishes a request in progress before exiting on SIGTERM', async () => {
      const port = await freePort();
      const running = await startService(service, { port, source: true, env });
      const slow = send(port, '/slow?ms=600');
      // SIGTERM once the server is handling it: the in-flight gauge says so (scrapes are not counted in it).
      await eventually(async () => {
        const exposition = parseExposition((await send(port, '/metrics')).body);
        expect(sampleValue(exposition, 'http_requests_in_flight', { method: 'GET' })).toBe(1);
      }, 10_000);
      running.child.kill('SIGTERM');
      const reply = await slow;
      expect(reply.status).toBe(200);
      expect(await running.exited).toEqual({ code: 0, signal: null });
      expect(await isListening(port)).toBe(false);
    });
  });
}
