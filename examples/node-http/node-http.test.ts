// The node:http example, run as a user runs it: the adapter API of @routemeter/core on a server with no
// framework labels each request by its template, counts 404s, aborted and pipelined-then-cut requests once,
// serves /metrics in a format promtool accepts, and stops on SIGTERM.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually, send, sendAndAbort, sendPipelinedAndClose } from '../../test-kit/http.ts';
import { countsOf, parseExposition, sampleValue } from '../../test-kit/metrics-text.ts';
import { promtoolCheckMetrics } from '../../test-kit/prometheus.ts';
import { freePort, isListening, startService } from '../lib/stack.mjs';

const service = { job: 'node-http', dir: dirname(fileURLToPath(import.meta.url)) };

describe('examples/node-http', () => {
  it('records every request by template, aborted and cut ones once, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const running = await startService(service, { port, source: true });
    try {
      expect(JSON.parse((await send(port, '/users/7')).body)).toEqual({ id: '7' });
      expect((await send(port, '/users/8?tab=repos')).status).toBe(200);
      expect((await send(port, '/orders', { method: 'POST' })).status).toBe(201);
      expect((await send(port, '/orders?fail=1', { method: 'POST' })).status).toBe(500);
      expect((await send(port, '/users/%E0%A4%A')).status).toBe(200); // not decoded: still /users/:id
      expect((await send(port, '/no/such/page')).status).toBe(404);
      await sendAndAbort(port, '/slow?ms=2000', 50);
      // Two requests on one connection, closed while the first is served: the second was answered by the app
      // (into the connection's queue) before the client left, so its status was sent; each is counted once.
      await sendPipelinedAndClose(port, ['/slow?ms=1000', '/users/9'], 50);

      const exposition = await eventually(async () => {
        const scraped = parseExposition((await send(port, '/metrics')).body);
        expect(sampleValue(scraped, 'http_requests_in_flight', { method: 'GET' })).toBe(0);
        return scraped;
      });
      expect(countsOf(exposition)).toEqual({
        'GET #unmatched 404': 1,
        'GET /slow 499': 2,
        'GET /users/:id 200': 4,
        'POST /orders 201': 1,
        'POST /orders 500': 1,
      });
      const scrape = await send(port, '/metrics');
      expect(scrape.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      // promtool's only complaint is about prom-client's own gauges, named before its naming rule existed.
      const complaints = (await promtoolCheckMetrics(scrape.body)).split('\n').filter(Boolean);
      for (const complaint of complaints)
        expect(complaint).toMatch(/^nodejs_\w+ non-counter metrics should not have "_total" suffix$/);
    } finally {
      const { code, signal } = await running.stop();
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    }
    expect(running.output()).toContain('shutting down');
    expect(await isListening(port)).toBe(false);
  });
});
