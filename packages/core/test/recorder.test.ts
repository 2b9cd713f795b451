import { Histogram, type Metric, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { labelValues, parseExposition, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { createRecorder } from '../src/adapter.js';
import {
  CLIENT_CLOSED_STATUS,
  RoutemeterMetricConflictError,
  type RoutemeterOptions,
  renderMetrics,
} from '../src/index.js';
import { ValueStore } from '../src/store.js';

interface FakeRequest {
  tenant?: string;
  length?: number;
}
interface FakeResponse {
  length?: number;
}

const sizes = {
  requestSize: (req: FakeRequest) => req.length,
  responseSize: (res: FakeResponse) => res.length,
};

function meterWith(options: RoutemeterOptions<FakeRequest, FakeResponse> = {}) {
  const registry = options.registry ?? new Registry();
  const meter = createRecorder<FakeRequest, FakeResponse>({ defaultMetrics: false, ...options, registry }, sizes);
  const record = (method: string, route: string | undefined, status: number, seconds = 0.01, req: FakeRequest = {}) => {
    const m = meter.method(method);
    m.start();
    m.finish(route, status, seconds, req, {});
  };
  const metrics = async () => parseExposition(await renderMetrics(registry, false));
  return { meter, registry, record, metrics };
}

describe('recording', () => {
  it('counts and times each request under method, route and status code', async () => {
    const { record, metrics } = meterWith();
    record('GET', '/users/:id', 200, 0.02);
    record('GET', '/users/:id', 200, 0.3);
    record('POST', '/users', 201, 0.004);
    const m = await metrics();
    const users = { method: 'GET', route: '/users/:id', status_code: '200' };
    expect(sampleValue(m, 'http_requests_total', users)).toBe(2);
    expect(sampleValue(m, 'http_request_duration_seconds_count', users)).toBe(2);
    expect(sampleValue(m, 'http_request_duration_seconds_sum', users)).toBeCloseTo(0.32, 10);
    expect(sampleValue(m, 'http_request_duration_seconds_bucket', { ...users, le: '0.025' })).toBe(1);
    expect(sampleValue(m, 'http_request_duration_seconds_bucket', { ...users, le: '0.5' })).toBe(2);
    expect(sampleValue(m, 'http_requests_total', { method: 'POST', route: '/users', status_code: '201' })).toBe(1);
  });

  it('labels a request with no route as #unmatched and a non-standard method as _OTHER', async () => {
    const { record, metrics } = meterWith();
    record('GET', undefined, 404);
    record('BREW', undefined, 404);
    record('SEARCH', undefined, 404);
    const m = await metrics();
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '#unmatched', status_code: '404' })).toBe(1);
    expect(sampleValue(m, 'http_requests_total', { method: '_OTHER', route: '#unmatched', status_code: '404' })).toBe(
      2,
    );
  });

  it('groups status codes by class with statusCode: class', async () => {
    const { record, metrics } = meterWith({ statusCode: 'class' });
    for (const status of [200, 201, 204, 404, 500, 503, CLIENT_CLOSED_STATUS]) record('GET', '/x', status);
    const m = await metrics();
    expect(labelValues(m, 'http_requests_total', 'status_code')).toEqual(['2xx', '4xx', '5xx']);
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/x', status_code: '2xx' })).toBe(3);
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/x', status_code: '4xx' })).toBe(2);
  });

  it('caps distinct routes at maxRoutes, recording the rest as #overflow with one warning', async () => {
    const warnings: string[] = [];
    const { record, metrics } = meterWith({ maxRoutes: 3, logger: { warn: (message) => warnings.push(message) } });
    for (let i = 0; i < 10; i++) record('GET', `/r${i}`, 200);
    record('POST', '/r0', 200); // a known route under another method takes no new slot
    record('GET', undefined, 404); // nor does the unmatched label
    const m = await metrics();
    expect(labelValues(m, 'http_requests_total', 'route')).toEqual(['#overflow', '#unmatched', '/r0', '/r1', '/r2']);
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '#overflow', status_code: '200' })).toBe(7);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/more than 3 distinct routes \(maxRoutes\); '\/r3' and later new routes/);
  });

  it('rewrites routes with normalizeRoute, per request, before the cap', async () => {
    const { meter, record, metrics } = meterWith({
      normalizeRoute: (route, req) => (req.tenant === undefined ? route.replace(/^\/v\d+/, '') : `/${req.tenant}`),
      maxRoutes: 2,
    });
    record('GET', '/v1/users/:id', 200);
    record('GET', '/v2/users/:id', 200);
    record('GET', '/v2/users/:id', 200, 0.01, { tenant: 'acme' });
    const bound = meter.route(['GET'], '/v3/users/:id');
    bound.start('GET');
    bound.finish('GET', 200, 0.01, {}, {});
    record('GET', undefined, 404, 0.01, { tenant: 'never-used' });
    const m = await metrics();
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '200' })).toBe(3);
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/acme', status_code: '200' })).toBe(1);
    expect(sampleValue(m, 'http_requests_total', { method: 'GET', route: '#unmatched', status_code: '404' })).toBe(1);
  });

  it('adds custom labels read from the finished request', async () => {
    const { record, metrics } = meterWith({ labels: { tenant: (req) => req.tenant ?? 'none' } });
    record('GET', '/x', 200, 0.01, { tenant: 'acme' });
    record('GET', '/x', 200, 0.01, { tenant: 'acme' });
    record('GET', '/x', 200, 0.01, {});
    const m = await metrics();
    expect(
      sampleValue(m, 'http_requests_total', { method: 'GET', route: '/x', status_code: '200', tenant: 'acme' }),
    ).toBe(2);
    expect(
      sampleValue(m, 'http_requests_total', { method: 'GET', route: '/x', status_code: '200', tenant: 'none' }),
    ).toBe(1);
  });

  it('tracks requests in flight per method with requestsInFlight', async () => {
    const { meter, metrics } = meterWith({ requestsInFlight: true });
    const get = meter.method('GET');
    get.start();
    get.start();
    meter.method('POST').start();
    expect(sampleValue(await metrics(), 'http_requests_in_flight', { method: 'GET' })).toBe(2);
    get.finish('/x', 200, 0.01, {}, {});
    const bound = meter.route(['GET'], '/y');
    bound.start('GET');
    expect(sampleValue(await metrics(), 'http_requests_in_flight', { method: 'GET' })).toBe(2);
    bound.finish('GET', 200, 0.01, {}, {});
    get.finish(undefined, 404, 0.01, {}, {});
    const m = await metrics();
    expect(sampleValue(m, 'http_requests_in_flight', { method: 'GET' })).toBe(0);
    expect(sampleValue(m, 'http_requests_in_flight', { method: 'POST' })).toBe(1);
  });

  it('observes body sizes with requestSize and responseSize, skipping unknown sizes', async () => {
    const { meter, metrics } = meterWith({ requestSize: true, responseSize: true, sizeBuckets: [10, 100] });
    const get = meter.method('POST');
    get.finish('/upload', 200, 0.01, { length: 50 }, { length: 5 });
    get.finish('/upload', 200, 0.01, {}, { length: 500 });
    const m = await metrics();
    const labels = { method: 'POST', route: '/upload', status_code: '200' };
    expect(sampleValue(m, 'http_request_size_bytes_count', labels)).toBe(1);
    expect(sampleValue(m, 'http_request_size_bytes_bucket', { ...labels, le: '100' })).toBe(1);
    expect(sampleValue(m, 'http_response_size_bytes_count', labels)).toBe(2);
    expect(sampleValue(m, 'http_response_size_bytes_bucket', { ...labels, le: '10' })).toBe(1);
    expect(sampleValue(m, 'http_response_size_bytes_sum', labels)).toBe(505);
  });
});

describe('metric definitions', () => {
  it('uses the OpenTelemetry names with naming: otel, and no separate counter', async () => {
    const { record, metrics, registry } = meterWith({ naming: 'otel', requestsInFlight: true });
    record('GET', '/users/:id', 200);
    const m = await metrics();
    const labels = { http_request_method: 'GET', http_route: '/users/:id', http_response_status_code: '200' };
    expect(sampleValue(m, 'http_server_request_duration_seconds_count', labels)).toBe(1);
    expect(sampleValue(m, 'http_server_active_requests', { http_request_method: 'GET' })).toBe(0);
    expect(registry.getSingleMetric('http_requests_total')).toBeUndefined();
  });

  it('prefixes every metric name with prefix', async () => {
    const { record, metrics } = meterWith({ prefix: 'shop_' });
    record('GET', '/x', 200);
    const m = await metrics();
    expect(sumOf(m, 'shop_http_requests_total')).toBe(1);
    expect(sumOf(m, 'shop_http_request_duration_seconds_count')).toBe(1);
    expect(sumOf(m, 'http_requests_total')).toBe(0);
  });

  it('uses the given duration buckets', async () => {
    const { record, metrics } = meterWith({ buckets: [0.5, 2] });
    record('GET', '/x', 200, 1);
    const m = await metrics();
    const les = m.samples.filter((s) => s.name === 'http_request_duration_seconds_bucket').map((s) => s.labels.le);
    expect(les).toEqual(['0.5', '2', '+Inf']);
  });

  it('gets existing metrics instead of failing when two meters share a registry', async () => {
    const registry = new Registry();
    const first = meterWith({ registry });
    const second = meterWith({ registry });
    first.record('GET', '/x', 200);
    second.record('GET', '/x', 200);
    expect(
      sampleValue(await first.metrics(), 'http_requests_total', { method: 'GET', route: '/x', status_code: '200' }),
    ).toBe(2);
  });

  it('fails clearly when a metric of the same name exists with another type, labels or buckets', () => {
    const typed = new Registry();
    new Histogram({ name: 'http_requests_total', help: 'not a counter', registers: [typed] });
    expect(() => meterWith({ registry: typed })).toThrow(RoutemeterMetricConflictError);
    expect(() => meterWith({ registry: typed })).toThrow(
      'routemeter: metric `http_requests_total` is already registered by something other than routemeter; remove it or set a `prefix`',
    );

    const gauge = new Registry();
    gauge.registerMetric(
      new ValueStore('gauge', 'http_requests_total', 'A gauge.', [
        'method',
        'route',
        'status_code',
      ]) as unknown as Metric,
    );
    expect(() => meterWith({ registry: gauge })).toThrow(
      'routemeter: metric `http_requests_total` is already registered as a gauge; routemeter needs a counter',
    );

    const labelled = new Registry();
    meterWith({ registry: labelled, labels: { tenant: () => 'a' } });
    expect(() => meterWith({ registry: labelled })).toThrow(
      'routemeter: metric `http_requests_total` is already registered with labels [method, route, status_code, tenant]; routemeter needs [method, route, status_code]',
    );

    const bucketed = new Registry();
    meterWith({ registry: bucketed, buckets: [1, 2] });
    expect(() => meterWith({ registry: bucketed, buckets: [1, 3] })).toThrow(
      /with buckets \[1, 2\]; routemeter needs \[1, 3\]/,
    );
  });

  it('collects process metrics once per registry with defaultMetrics, and not when the app already does', async () => {
    const registry = new Registry();
    meterWith({ registry, defaultMetrics: true });
    meterWith({ registry, defaultMetrics: true });
    const m = parseExposition(await renderMetrics(registry, false));
    expect(m.samples.filter((s) => s.name === 'process_cpu_user_seconds_total')).toHaveLength(1);
    const without = meterWith({ defaultMetrics: false });
    expect(without.registry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });
});
