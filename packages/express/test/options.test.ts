import { RoutemeterOptionError, routemeter } from '@routemeter/express';
import type express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test-kit/http.js';
import { labelValues, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { type Served, sendAll, serve } from './serve.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

function routes(app: express.Express) {
  app.get('/users/:id', (_req, res) => {
    res.send('user');
  });
  app.get('/health', (_req, res) => {
    res.send('ok');
  });
  app.get('/static/:file', (_req, res) => {
    res.send('file');
  });
  app.post('/upload', (req, res) => {
    req.resume();
    req.on('end', () => {
      res.status(201).send('stored');
    });
  });
  app.get('/missing/:id', (_req, res) => {
    res.status(404).send('no such thing');
  });
}

describe('Express adapter options', () => {
  it('throws at creation, naming the option', () => {
    expect(() => routemeter({ maxRoutes: -1 })).toThrow(RoutemeterOptionError);
    expect(() => routemeter({ maxRoutes: -1 })).toThrow(
      'routemeter: option `maxRoutes` must be a positive integer, got -1',
    );
    expect(() => routemeter({ metricPath: '/m' } as never)).toThrow('did you mean `metricsPath`?');
  });

  it('exclude: leaves out exact paths and RegExp matches', async () => {
    served = await serve(routes, { exclude: ['/health', /^\/static\//] });
    await sendAll(served, ['/health', '/static/app.js', '/users/1', '/health?probe=1']);
    const metrics = await served.scrape();
    expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['/users/:id']);
  });

  it('exclude: leaves out requests a predicate picks', async () => {
    served = await serve(routes, { exclude: (req) => req.headers['user-agent'] === 'probe' });
    await served.send('/users/1', { headers: { 'user-agent': 'probe' } });
    await served.send('/users/2');
    expect(sumOf(await served.scrape(), 'http_requests_total')).toBe(1);
  });

  it('labels: adds custom labels from the request and response', async () => {
    served = await serve(routes, {
      labels: {
        tenant: (req) => String(req.headers['x-tenant'] ?? 'none'),
        cached: (_req, res) => String(res.hasHeader('etag')),
      },
    });
    await served.send('/users/1', { headers: { 'x-tenant': 'acme' } });
    await served.send('/users/2');
    const metrics = await served.scrape();
    const base = { method: 'GET', route: '/users/:id', status_code: '200', cached: 'true' };
    expect(sampleValue(metrics, 'http_requests_total', { ...base, tenant: 'acme' })).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', { ...base, tenant: 'none' })).toBe(1);
  });

  it('normalizeRoute: rewrites the template', async () => {
    served = await serve(routes, { normalizeRoute: (route) => route.replace(':id', '{id}') });
    await served.send('/users/1');
    expect(labelValues(await served.scrape(), 'http_requests_total', 'route')).toEqual(['/users/{id}']);
  });

  it('statusCode: class groups status codes', async () => {
    served = await serve(routes, { statusCode: 'class' });
    await sendAll(served, ['/users/1', '/missing/1', '/nope']);
    const metrics = await served.scrape();
    expect(labelValues(metrics, 'http_requests_total', 'status_code')).toEqual(['2xx', '4xx']);
  });

  it('maxRoutes: caps route labels and warns once through logger', async () => {
    const warnings: string[] = [];
    served = await serve(routes, { maxRoutes: 1, logger: { warn: (message) => warnings.push(message) } });
    await sendAll(served, ['/users/1', '/health', '/static/a', '/nope']);
    const metrics = await served.scrape();
    expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['#overflow', '#unmatched', '/users/:id']);
    expect(warnings).toHaveLength(1);
  });

  it('a second routemeter on the app counts nothing twice and warns once that its options are not used', async () => {
    const warnings: string[] = [];
    const second = new Registry();
    served = await serve(
      (app) => {
        app.use(routemeter({ registry: second, logger: { warn: (message) => warnings.push(message) } }));
        routes(app);
      },
      { logger: { warn: (message) => warnings.push(message) } },
    );
    await sendAll(served, ['/users/1', '/users/2', '/nope']);
    const metrics = await served.scrape();
    expect(
      sampleValue(metrics, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '200' }),
    ).toBe(2);
    expect(sumOf(metrics, 'http_requests_total')).toBe(3);
    expect(await second.getSingleMetricAsString('http_requests_total')).not.toMatch(/^http_requests_total\{/m);
    expect(warnings).toEqual([
      'routemeter: a request reached this middleware already recorded by another routemeter (an earlier `app.use(routemeter())`, or RoutemeterModule in a Nest app): it is counted once, by the first, and the options of this one are not used: keep one routemeter per app',
    ]);
  });

  it('requestsInFlight: counts a request while it is being served', async () => {
    let release: () => void = () => {};
    let arrived: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const current = await serve(
      (app) => {
        app.get('/slow', (_req, res) => {
          release = () => res.send('done');
          arrived();
        });
      },
      { requestsInFlight: true },
    );
    served = current;
    const reply = current.send('/slow');
    await inHandler;
    expect(sampleValue(await current.scrape(), 'http_requests_in_flight', { method: 'GET' })).toBe(1);
    release();
    await reply;
    await eventually(async () => {
      expect(sampleValue(await current.scrape(), 'http_requests_in_flight', { method: 'GET' })).toBe(0);
    });
  });

  it('requestSize and responseSize: observe Content-Length of bodies', async () => {
    served = await serve(routes, { requestSize: true, responseSize: true, sizeBuckets: [5, 50] });
    await served.send('/upload', { method: 'POST', body: 'x'.repeat(20), headers: { 'content-type': 'text/plain' } });
    const metrics = await served.scrape();
    const labels = { method: 'POST', route: '/upload', status_code: '201' };
    expect(sampleValue(metrics, 'http_request_size_bytes_sum', labels)).toBe(20);
    expect(sampleValue(metrics, 'http_response_size_bytes_sum', labels)).toBe('stored'.length);
    expect(sampleValue(metrics, 'http_response_size_bytes_bucket', { ...labels, le: '5' })).toBe(0);
  });

  it('prefix, naming and buckets: shape the metric names and histogram', async () => {
    served = await serve(routes, { prefix: 'api_', naming: 'otel', buckets: [0.5, 1] });
    await served.send('/users/1');
    const metrics = await served.scrape();
    const labels = { http_request_method: 'GET', http_route: '/users/:id', http_response_status_code: '200' };
    expect(sampleValue(metrics, 'api_http_server_request_duration_seconds_count', labels)).toBe(1);
    expect(sampleValue(metrics, 'api_http_server_request_duration_seconds_bucket', { ...labels, le: '0.5' })).toBe(1);
    expect(sumOf(metrics, 'api_http_requests_total')).toBe(0);
  });
});
