import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../../test-kit/metrics-text.js';
import { countingCollector } from '../../../../test-kit/scrapers.js';
import { createScrapeHandler } from '../../src/adapter.js';
import { type MetricsServer, serveMetrics } from '../../src/index.js';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';
const times = <T>(count: number, make: (i: number) => Promise<T>) =>
  Promise.all(Array.from({ length: count }, (_, i) => make(i)));

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('concurrent scrapes of one registry share one rendering', () => {
  it('collects once for 10 scrapes at once, and again for the next scrape', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 50);
    server = await serveMetrics({ port: 0, host: '127.0.0.1', registry });
    const port = server.port;
    const replies = await times(10, () => send(port, '/metrics'));
    expect(collector.calls).toBe(1);
    expect(new Set(replies.map((reply) => `${reply.status} ${reply.body}`)).size).toBe(1);
    expect(sampleValue(parseExposition(replies[0]?.body ?? ''), 'collect_calls')).toBe(1);
    expect(sampleValue(parseExposition((await send(port, '/metrics')).body), 'collect_calls')).toBe(2);
  });

  it('renders each format once, each scrape getting the format it asked for', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 50);
    server = await serveMetrics({ port: 0, host: '127.0.0.1', registry });
    const port = server.port;
    const replies = await times(10, (i) => send(port, '/metrics', i % 2 ? { headers: { accept: OPENMETRICS } } : {}));
    expect(collector.calls).toBe(2);
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(reply.body.endsWith('# EOF\n')).toBe(i % 2 === 1);
    });
  });

  it('checks auth per scrape before joining: refused scrapes get 401, the others one rendering', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 50);
    server = await serveMetrics({ port: 0, host: '127.0.0.1', registry, auth: { bearer: 'let-me-in' } });
    const port = server.port;
    const replies = await times(10, (i) =>
      send(port, '/metrics', { headers: { authorization: i % 2 ? 'Bearer let-me-in' : 'Bearer nope' } }),
    );
    expect(replies.map((reply) => reply.status)).toEqual([401, 200, 401, 200, 401, 200, 401, 200, 401, 200]);
    expect(collector.calls).toBe(1);
  });

  it('shares the rendering between two handlers of one registry (two apps, or an app and serveMetrics)', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 50);
    const first = createScrapeHandler(registry, console);
    const second = createScrapeHandler(registry, console);
    const [a, b] = await Promise.all([first(undefined), second(undefined)]);
    expect(collector.calls).toBe(1);
    expect(b).toBe(a);
  });

  it('renders a registry built per scrape (a function source, as cluster uses) for each scrape', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 20);
    const scrape = createScrapeHandler(async () => registry, console);
    await times(5, () => scrape(undefined));
    expect(collector.calls).toBe(5);
  });

  it('warns once when the shared rendering fails, and every scrape of it gets the 500', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken',
      help: 'Rejects after a while.',
      registers: [registry],
      async collect() {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('database down');
      },
    });
    const warnings: string[] = [];
    const scrape = createScrapeHandler(registry, { warn: (message) => warnings.push(message) });
    const replies = await times(5, () => scrape(undefined));
    expect(replies.map((reply) => reply.status)).toEqual([500, 500, 500, 500, 500]);
    expect(warnings).toHaveLength(1);
  });
});
