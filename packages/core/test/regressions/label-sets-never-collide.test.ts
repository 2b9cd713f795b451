import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { countsOf, parseExposition } from '../../../../test-kit/metrics-text.js';
import { createRecorder } from '../../src/adapter.js';
import { type RoutemeterOptions, renderMetrics } from '../../src/index.js';

// Regressions: two lone surrogates ('\uD800', '\uDBFF') in a label rendered as the same '\uFFFD' label set
// twice in one scrape; custom label values a='x\0y', b='z' and a='x', b='y\0z' merged into one series;
// and two routemeters on one registry listing custom labels in different orders swapped their values.
type Req = Record<string, string>;
const sizes = { requestSize: () => undefined, responseSize: () => undefined };

function meterOn(registry: Registry, options: RoutemeterOptions<Req, unknown>) {
  const meter = createRecorder<Req, unknown>({ registry, defaultMetrics: false, ...options }, sizes);
  return (route: string, req: Req = {}) => meter.method('GET').finish(route, 200, 0.01, req, {});
}

const scrape = async (registry: Registry) => parseExposition(await renderMetrics(registry, false));

it('renders label values that differ only in lone surrogates as one series', async () => {
  const registry = new Registry();
  const record = meterOn(registry, { labels: { tag: (req) => req.tag as string } });
  record('/a\uD800', { tag: '\uDBFF' });
  record('/a\uDBFF', { tag: '\uD800' });
  const text = await renderMetrics(registry, false);
  expect(text.split('\n').filter((line) => line.startsWith('http_requests_total{'))).toEqual([
    'http_requests_total{method="GET",route="/a\uFFFD",status_code="200",tag="\uFFFD"} 2',
  ]);
});

it('keeps label sets apart whatever characters their values hold', async () => {
  const registry = new Registry();
  const record = meterOn(registry, { labels: { a: (req) => req.a as string, b: (req) => req.b as string } });
  record('/r', { a: 'x\u0000y', b: 'z' });
  record('/r', { a: 'x', b: 'y\u0000z' });
  record('/r', { a: 'x', b: 'y\u0000z' });
  expect(countsOf(await scrape(registry), 'a', 'b')).toEqual({
    'GET /r 200 a=x b=y\u0000z': 2,
    'GET /r 200 a=x\u0000y b=z': 1,
  });
});

it('maps custom label values by name when two routemeters share a registry in different orders', async () => {
  const registry = new Registry();
  const first = meterOn(registry, {
    labels: { region: (req) => req.region as string, tier: (req) => req.tier as string },
  });
  const second = meterOn(registry, {
    labels: { tier: (req) => req.tier as string, region: (req) => req.region as string },
  });
  first('/r', { region: 'eu', tier: 'gold' });
  second('/r', { region: 'us', tier: 'free' });
  second('/r', { region: 'eu', tier: 'gold' });
  expect(countsOf(await scrape(registry), 'region', 'tier')).toEqual({
    'GET /r 200 region=eu tier=gold': 2,
    'GET /r 200 region=us tier=free': 1,
  });
});
