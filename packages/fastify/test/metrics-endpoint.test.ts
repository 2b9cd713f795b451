import { createRequire } from 'node:module';
import defaultExport, { routemeter } from '@routemeter/fastify';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { promtoolCheckMetrics } from '../../../test-kit/prometheus.js';
import { build, injectAll, injectScrape } from './serve.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const users = (a: FastifyInstance) => {
  a.get('/users/:id', async () => 'user');
};
const usersLabels = { method: 'GET', route: '/users/:id', status_code: '200' };

describe('the plugin', () => {
  it('is exported as named, default and CommonJS .default, wrapped by fastify-plugin', () => {
    expect(defaultExport).toBe(routemeter);
    const meta = (routemeter as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: '@routemeter/fastify', fastify: '4.x || 5.x' });
    expect((routemeter as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')]).toBe(true);
  });

  it('registers a hidden GET route (HEAD through Fastify) on metricsPath, counted only with recordScrapes', async () => {
    const seen: RouteOptions[] = [];
    const a = Fastify();
    a.addHook('onRoute', (route) => {
      seen.push(route);
    });
    await a.register(routemeter, { registry: new Registry(), defaultMetrics: false, metricsPath: '/internal/metrics' });
    app = a;
    const own = seen.filter((route) => route.url === '/internal/metrics');
    expect(own.map((route) => route.method).sort()).toEqual(['GET', 'HEAD']);
    expect(own.every((route) => (route.schema as { hide?: boolean }).hide === true)).toBe(true);
    expect(own.every((route) => route.config?.metrics === false)).toBe(true);
  });

  it('serves the registry even with exposeHeadRoutes off, HEAD included', async () => {
    ({ app } = await build(users, {}, { exposeHeadRoutes: false }));
    const head = await app.inject({ method: 'HEAD', url: '/metrics' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
  });
});

describe('/metrics', () => {
  it('serves OpenMetrics when Prometheus asks for it, and alternating formats keep names and values', async () => {
    ({ app } = await build(users));
    await injectAll(app, ['/users/1', '/users/2']);
    const text1 = await app.inject({ url: '/metrics' });
    const open1 = await app.inject({ url: '/metrics', headers: { accept: PROMETHEUS_ACCEPT } });
    const text2 = await app.inject({ url: '/metrics' });
    expect(text1.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(open1.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(open1.body.endsWith('# EOF\n')).toBe(true);
    expect(text2.body).toBe(text1.body);
    expect(sampleValue(parseExposition(open1.body), 'http_requests_total', usersLabels)).toBe(2);
    expect(parseExposition(open1.body).types.get('http_requests')).toBe('counter');
  });

  it('passes other methods on metricsPath to the app (404)', async () => {
    ({ app } = await build(users));
    expect((await app.inject({ method: 'POST', url: '/metrics' })).statusCode).toBe(404);
  });

  it('is not served at all with metricsPath: false', async () => {
    ({ app } = await build(users, { metricsPath: false }));
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
  });

  it("serves the app's own prom-client metrics on the same route", async () => {
    const registry = new Registry();
    new Counter({ name: 'app_signups_total', help: 'Signups.', registers: [registry] }).inc(3);
    ({ app } = await build(users, { registry }));
    expect(sampleValue(await injectScrape(app), 'app_signups_total')).toBe(3);
  });

  it('is clean for promtool check metrics with every optional metric on', async () => {
    ({ app } = await build(users, { requestsInFlight: true, requestSize: true, responseSize: true }));
    await injectAll(app, ['/users/1', '/nope', ['POST', '/users/1']]);
    await app.inject({ method: 'POST', url: '/users/1', payload: 'x'.repeat(300) });
    const body = (await app.inject({ url: '/metrics' })).body;
    expect(await promtoolCheckMetrics(body)).toBe('');
    const metrics = parseExposition(body);
    expect(sumOf(metrics, 'http_request_size_bytes_count')).toBe(1);
    expect(sumOf(metrics, 'http_request_size_bytes_sum')).toBe(300);
    expect(sumOf(metrics, 'http_response_size_bytes_count')).toBe(4);
  });

  it('collects process metrics once per registry, for two instances', async () => {
    const registry = new Registry();
    const first = await build(users, { registry, defaultMetrics: true });
    const second = await build(users, { registry, defaultMetrics: true });
    // One series, not a registration error: prom-client's CPU counter may still read 0 this early.
    expect(sampleValue(await injectScrape(first.app), 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(await injectScrape(second.app), 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    await first.app.close();
    await second.app.close();
  });
});

describe('the built package', () => {
  it('loads through require() with the plugin as .default and .routemeter', () => {
    const require = createRequire(import.meta.url);
    let built: { default?: unknown; routemeter?: unknown };
    try {
      built = require('../dist/index.cjs');
    } catch {
      return; // not built in this checkout; `tsup` then publint/attw check it
    }
    expect(typeof built.routemeter).toBe('function');
    expect(built.default).toBe(built.routemeter);
  });

  it('registers as the whole CommonJS module object (Fastify unwraps .default)', async () => {
    const require = createRequire(import.meta.url);
    let built: object;
    try {
      built = require('../dist/index.cjs');
    } catch {
      return;
    }
    const registry = new Registry();
    const a = Fastify();
    app = a;
    await a.register(built as typeof routemeter, { registry, defaultMetrics: false });
    users(a);
    await a.inject({ url: '/users/1' });
    expect(sampleValue(await injectScrape(a), 'http_requests_total', usersLabels)).toBe(1);
  });
});
