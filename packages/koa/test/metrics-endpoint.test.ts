import { request as httpRequest } from 'node:http';
import Router from '@koa/router';
import type Koa from 'koa';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { type Served, sendAll, serve } from './serve.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const users = (app: Koa) => {
  const router = new Router();
  router.get('/users/:id', (ctx) => {
    ctx.body = 'ok';
  });
  router.post('/metrics', (ctx) => {
    ctx.body = 'posted to the app';
  });
  app.use(router.routes());
};
const usersLabels = { method: 'GET', route: '/users/:id', status_code: '200' };

describe('/metrics on Koa', () => {
  it('serves OpenMetrics when Prometheus asks for it, with the exact Content-Length, and HEAD alike', async () => {
    served = await serve(users);
    await sendAll(served, ['/users/1', '/users/2']);
    const open = await served.send('/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(open.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(open.body.endsWith('# EOF\n')).toBe(true);
    expect(Number(open.headers['content-length'])).toBe(Buffer.byteLength(open.body));
    expect(sampleValue(parseExposition(open.body), 'http_requests_total', usersLabels)).toBe(2);
    const text = await served.send('/metrics');
    const head = await served.send('/metrics', { method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', text.headers['content-length']]);
  });

  it('is answered through Koa: middleware before routemeter adds its headers and sees the status', async () => {
    const seen: number[] = [];
    served = await serve((app) => {
      // Moved before routemeter, as a user's `app.use(cors())` or logger first would be.
      app.middleware.unshift(async (ctx, next) => {
        ctx.set('access-control-allow-origin', '*');
        await next();
        seen.push(ctx.status);
      });
      users(app);
    });
    const reply = await served.send('/metrics');
    expect([reply.status, reply.headers['access-control-allow-origin'], reply.headers['cache-control']]).toEqual([
      200,
      '*',
      'no-store',
    ]);
    expect(seen).toEqual([200]);
  });

  it('streams a large registry whole, and passes other methods on metricsPath to the app', async () => {
    const registry = new Registry();
    const gauge = new Gauge({ name: 'app_shards', help: 'Shards.', labelNames: ['shard'], registers: [registry] });
    for (let i = 0; i < 5000; i++) gauge.set({ shard: `shard-${i}` }, i);
    served = await serve(users, { registry });
    const reply = await served.send('/metrics');
    expect(Number(reply.headers['content-length'])).toBe(Buffer.byteLength(reply.body));
    expect(sumOf(parseExposition(reply.body), 'app_shards')).toBe((4999 * 5000) / 2);
    expect((await served.send('/metrics', { method: 'POST' })).body).toBe('posted to the app');
  });

  it('keeps serving when the scraper leaves before the scrape is ready', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'slow_collect',
      help: 'Takes 150 ms to collect.',
      registers: [registry],
      async collect() {
        await new Promise((resolve) => setTimeout(resolve, 150));
        this.set(1);
      },
    });
    served = await serve(users, { registry });
    const port = served.port;
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/metrics', agent: false });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 30);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await served.send('/users/1')).status).toBe(200);
    expect(sampleValue(await served.scrape(), 'slow_collect')).toBe(1);
  });

  it("serves the app's own metrics, records sizes from Content-Length, and counts scrapes with recordScrapes", async () => {
    const registry = new Registry();
    new Counter({ name: 'app_signups_total', help: 'Signups.', registers: [registry] }).inc(3);
    served = await serve(
      (app) => {
        const router = new Router();
        router.post('/echo', async (ctx) => {
          let body = '';
          for await (const chunk of ctx.req) body += chunk;
          ctx.body = body.toUpperCase();
        });
        app.use(router.routes());
      },
      { registry, requestSize: true, responseSize: true, recordScrapes: true },
    );
    await served.send('/echo', { method: 'POST', body: 'twelve bytes' });
    await served.send('/metrics');
    const metrics = await served.scrape();
    const echo = { method: 'POST', route: '/echo', status_code: '200' };
    expect(sampleValue(metrics, 'app_signups_total')).toBe(3);
    expect(sampleValue(metrics, 'http_request_size_bytes_sum', echo)).toBe(12);
    expect(sampleValue(metrics, 'http_response_size_bytes_sum', echo)).toBe(12);
    expect(sampleValue(metrics, 'http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' })).toBe(
      1,
    );
  });

  it('asks an auth predicate about the Koa context', async () => {
    served = await serve(users, { auth: (ctx) => ctx.get('x-internal') === 'yes' });
    expect((await served.send('/metrics')).status).toBe(401);
    expect((await served.send('/metrics', { headers: { 'x-internal': 'yes' } })).status).toBe(200);
  });
});
