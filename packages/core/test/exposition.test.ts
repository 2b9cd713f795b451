import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { createRecorder, createScrapeHandler, prefersOpenMetrics, scrapeFormat } from '../src/adapter.js';
import { renderMetrics } from '../src/index.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('content negotiation', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['text/plain', false],
    ['text/plain;version=0.0.4', false],
    [PROMETHEUS_ACCEPT, true],
    ['application/openmetrics-text', true],
    ['application/openmetrics-text; version=1.0.0; charset=utf-8', true],
    ['application/openmetrics-text;version=0.0.1', false],
    ['text/plain;q=0.9, application/openmetrics-text', true],
    ['text/plain, application/openmetrics-text;q=0.5', false],
    ['application/openmetrics-text, text/plain', true],
    ['text/plain, application/openmetrics-text', false],
    ['application/openmetrics-text;q=0', false],
    ['APPLICATION/OPENMETRICS-TEXT;VERSION=1.0.0', true],
  ])('Accept %j prefers OpenMetrics: %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });

  const PROTOBUF = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
  it.each([
    [undefined, 'text'],
    [PROMETHEUS_ACCEPT, 'openmetrics'],
    // Prometheus 2.42 with --enable-feature=native-histograms:
    [
      `${PROTOBUF},application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`,
      'protobuf',
    ],
    [PROTOBUF, 'protobuf'],
    [PROTOBUF.toUpperCase(), 'protobuf'],
    ['application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited', 'protobuf'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.Other;encoding=delimited', 'text'],
    ['application/vnd.google.protobuf', 'text'],
    [`${PROTOBUF};q=0.5,application/openmetrics-text`, 'openmetrics'],
    [`application/openmetrics-text,${PROTOBUF}`, 'openmetrics'],
    [`text/plain,${PROTOBUF}`, 'text'],
    [`${PROTOBUF},text/plain`, 'protobuf'],
    [`${PROTOBUF};q=0`, 'text'],
    [`text/plain;q=0.4,${PROTOBUF};q=0.5`, 'protobuf'],
  ])('Accept %j prefers %s', (accept, format) => {
    expect(scrapeFormat(accept)).toBe(format);
  });

  it('never throws, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (accept) => {
        expect(typeof prefersOpenMetrics(accept)).toBe('boolean');
        expect(['text', 'openmetrics', 'protobuf']).toContain(scrapeFormat(accept));
      }),
    );
  });
});

function registryWithEverything(
  contentType: RegistryContentType = Registry.PROMETHEUS_CONTENT_TYPE,
): Registry<RegistryContentType> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType);
  registry.setDefaultLabels({ service: 'api' });
  const counter = new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['kind'], registers: [registry] });
  counter.inc({ kind: 'a' }, 2);
  new Counter({ name: 'events', help: 'A counter without _total.', registers: [registry] }).inc();
  new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [registry] }).set(7);
  new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [1, 2], registers: [registry] }).observe(1.5);
  return registry;
}

describe('rendering', () => {
  it("renders text exactly as prom-client's own registry.metrics() does", async () => {
    const registry = registryWithEverything();
    expect(await renderMetrics(registry, false)).toBe(await registry.metrics());
  });

  it('renders OpenMetrics exactly as prom-client does for an OpenMetrics registry, without renaming anything', async () => {
    const ours = registryWithEverything();
    const theirs = registryWithEverything(Registry.OPENMETRICS_CONTENT_TYPE);
    const rendered = await renderMetrics(ours, true);
    expect(rendered).toBe(await theirs.metrics());
    expect(ours.getSingleMetric('jobs_total')).toBeDefined();
    expect((ours.getSingleMetric('jobs_total') as unknown as { name: string }).name).toBe('jobs_total');
    expect(await renderMetrics(ours, false)).toBe(await registryWithEverything().metrics());
  });

  it('renders text from a registry created for OpenMetrics', async () => {
    const registry = registryWithEverything(Registry.OPENMETRICS_CONTENT_TYPE);
    const text = parseExposition(await renderMetrics(registry, false));
    expect(sampleValue(text, 'jobs_total', { kind: 'a', service: 'api' })).toBe(2);
    expect(text.types.get('jobs_total')).toBe('counter');
  });

  it('escapes any custom label value so that it parses back unchanged, in both formats', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), async (value) => {
        const registry = new Registry();
        const meter = createRecorder<{ tag: string }, unknown>(
          { registry, defaultMetrics: false, labels: { tag: (req) => req.tag } },
          { requestSize: () => undefined, responseSize: () => undefined },
        );
        meter.method('GET').finish('/x', 200, 0.1, { tag: value }, {});
        for (const openMetrics of [false, true]) {
          const parsed = parseExposition(await renderMetrics(registry, openMetrics));
          const labels = { method: 'GET', route: '/x', status_code: '200', tag: value };
          expect(sampleValue(parsed, 'http_requests_total', labels)).toBe(1);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('scrape handler', () => {
  it('answers with the negotiated content type', async () => {
    const scrape = createScrapeHandler(registryWithEverything(), console);
    const text = await scrape(undefined);
    const open = await scrape(PROMETHEUS_ACCEPT);
    expect([text.status, text.contentType]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    expect([open.status, open.contentType]).toEqual([
      200,
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    ]);
    expect(open.body.endsWith('# EOF\n')).toBe(true);
    expect(Buffer.concat(await open.stream().toArray()).toString()).toBe(open.body);
    expect(open.byteLength).toBe(Buffer.byteLength(open.body));
  });

  it('answers 500 and warns when a collector rejects', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken',
      help: 'Rejects.',
      registers: [registry],
      async collect() {
        throw new Error('database down');
      },
    });
    const warnings: string[] = [];
    const reply = await createScrapeHandler(registry, { warn: (message) => warnings.push(message) })(undefined);
    expect(reply.status).toBe(500);
    expect(reply.headers).toEqual({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    expect(reply.body).toBe('routemeter: collecting metrics failed\n');
    expect((await reply.stream().toArray()).map(String)).toEqual([reply.body]);
    expect(warnings).toEqual(['routemeter: collecting metrics failed: database down']);
  });
});
