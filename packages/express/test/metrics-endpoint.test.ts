import { createServer } from 'node:http';
import { routemeter } from '@routemeter/express';
import express from 'express';
import { Counter, register as globalRegister, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { close, listen, send } from '../../../test-kit/http.js';
import { parseExposition, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { promtoolCheckMetrics } from '../../../test-kit/prometheus.js';
import { type Served, sendAll, serve } from './serve.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const ok = (app: express.Express) => {
  app.get('/users/:id', (_req, res) => {
    res.send('ok');
  });
};
const users = { method: 'GET', route: '/users/:id', status_code: '200' };

describe('/metrics', () => {
  it('serves text format 0.0.4 by default and does not count itself', async () => {
    served = await serve(ok);
    await served.send('/users/1');
    const reply = await served.send('/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    await served.send('/metrics');
    const metrics = parseExposition((await served.send('/metrics')).body);
    expect(sumOf(metrics, 'http_requests_total')).toBe(1);
  });

  it('serves OpenMetrics when Prometheus asks for it, and alternating formats keep names and values', async () => {
    served = await serve(ok);
    await sendAll(served, ['/users/1', '/users/2']);
    const text1 = await served.send('/metrics');
    const open1 = await served.send('/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
    const text2 = await served.send('/metrics');
    const open2 = await served.send('/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(open1.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(open1.body.endsWith('# EOF\n')).toBe(true);
    expect(text2.body).toBe(text1.body);
    expect(open2.body).toBe(open1.body);
    for (const body of [text1.body, open1.body]) {
      const metrics = parseExposition(body);
      expect(sampleValue(metrics, 'http_requests_total', users)).toBe(2);
      expect(sampleValue(metrics, 'http_request_duration_seconds_count', users)).toBe(2);
    }
    expect(parseExposition(open1.body).types.get('http_requests')).toBe('counter');
    expect(parseExposition(text1.body).types.get('http_requests_total')).toBe('counter');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    served = await serve(ok);
    const head = await served.send('/metrics', { method: 'HEAD' });
    const get = await served.send('/metrics');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
  });

  it('passes other methods on /metrics to the app', async () => {
    served = await serve(ok);
    expect((await served.send('/metrics', { method: 'POST' })).status).toBe(404);
  });

  // promtool reads the text format only; the OpenMetrics output is checked by a real Prometheus scraping it.
  it('is clean for promtool check metrics', async () => {
    served = await serve(ok, { requestsInFlight: true, requestSize: true, responseSize: true });
    await sendAll(served, ['/users/1', '/nope']);
    expect(await promtoolCheckMetrics((await served.send('/metrics')).body)).toBe('');
  });

  it("has promtool complain only of prom-client's own process gauge names when process metrics are on", async () => {
    served = await serve(ok, { defaultMetrics: true });
    await served.send('/users/1');
    const complaints = (await promtoolCheckMetrics((await served.send('/metrics')).body)).split('\n');
    expect(complaints).toEqual(
      ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map(
        (name) => `${name} non-counter metrics should not have "_total" suffix`,
      ),
    );
  });

  it("serves the app's own prom-client metrics on the same route", async () => {
    const registry = new Registry();
    const signups = new Counter({ name: 'app_signups_total', help: 'Signups.', registers: [registry] });
    signups.inc(3);
    served = await serve(ok, { registry });
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'app_signups_total')).toBe(3);
  });

  it('serves on metricsPath, and not at all with metricsPath: false', async () => {
    served = await serve(ok, { metricsPath: '/internal/metrics' });
    expect((await served.send('/metrics')).status).toBe(404);
    expect(sumOf(await served.scrape(undefined, '/internal/metrics'), 'http_requests_total')).toBe(1);
    await served.close();
    served = await serve(ok, { metricsPath: false });
    expect((await served.send('/metrics')).status).toBe(404);
  });

  it('counts scrapes under metricsPath with recordScrapes', async () => {
    served = await serve(ok, { recordScrapes: true });
    await served.send('/metrics');
    await served.send('/metrics');
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' })).toBe(
      2,
    );
  });
});

describe('registries', () => {
  it("records into prom-client's global register by default", async () => {
    globalRegister.clear();
    const app = express();
    app.use(routemeter({ defaultMetrics: false }));
    ok(app);
    const server = createServer(app);
    const port = await listen(server);
    await send(port, '/users/1');
    const metrics = parseExposition(await globalRegister.metrics());
    expect(sampleValue(metrics, 'http_requests_total', users)).toBe(1);
    await close(server);
    globalRegister.clear();
  });

  it('shares metrics between two apps on one registry, with no registration error', async () => {
    const registry = new Registry();
    const first = await serve(ok, { registry });
    const second = await serve(ok, { registry });
    await first.send('/users/1');
    await second.send('/users/2');
    await second.send('/users/3');
    const metrics = await first.scrape();
    expect(sampleValue(metrics, 'http_requests_total', users)).toBe(3);
    await first.close();
    await second.close();
  });

  it('collects process metrics once per registry', async () => {
    const registry = new Registry();
    const first = await serve(ok, { registry, defaultMetrics: true });
    const second = await serve(ok, { registry, defaultMetrics: true });
    const metrics = await first.scrape();
    expect(metrics.samples.filter((s) => s.name === 'process_cpu_user_seconds_total')).toHaveLength(1);
    await first.close();
    await second.close();
  });
});

describe('auth', () => {
  it('serves /metrics only to a scraper with the token, with a 401 challenge otherwise', async () => {
    served = await serve(ok, { auth: { bearer: 'scrape-token' } });
    const denied = await served.send('/metrics');
    expect([denied.status, denied.body, denied.headers['www-authenticate']]).toEqual([
      401,
      'Unauthorized\n',
      'Bearer realm="metrics"',
    ]);
    const allowed = await served.send('/metrics', { headers: { authorization: 'Bearer scrape-token' } });
    expect(allowed.status).toBe(200);
  });

  it('asks a predicate about the Express request', async () => {
    served = await serve(ok, { auth: (req) => req.get('x-internal') === 'yes' });
    expect((await served.send('/metrics')).status).toBe(401);
    expect((await served.send('/metrics', { headers: { 'x-internal': 'yes' } })).status).toBe(200);
  });
});
