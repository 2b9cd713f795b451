import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { close, eventually, listen, send, sendAndAbort } from '../../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../../test-kit/metrics-text.js';
import { countingCollector, keptAliveClient } from '../../../../test-kit/scrapers.js';
import { createScrapeHandler, writeScrape } from '../../src/adapter.js';
import { type MetricsServer, serveMetrics } from '../../src/index.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A plain Node server whose handler is given the request and response. */
async function nodeServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const http = createServer(handler);
  return { port: await listen(http), close: () => close(http) };
}

describe('writeScrape', () => {
  it('sends status, headers and Content-Length, and for HEAD no body', async () => {
    const registry = new Registry();
    new Gauge({ name: 'up_gauge', help: 'Up.', registers: [registry] }).set(1);
    const scrape = createScrapeHandler(registry, console);
    const app = await nodeServer((req, res) => void scrape(undefined).then((reply) => writeScrape(req, res, reply)));
    const get = await send(app.port, '/');
    const head = await send(app.port, '/', { method: 'HEAD' });
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(get.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect(sampleValue(parseExposition(get.body), 'up_gauge')).toBe(1);
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', get.headers['content-length']]);
    await app.close();
  });

  it('writes nothing and throws nothing on a response already answered', async () => {
    const scrape = createScrapeHandler(new Registry(), console);
    let threw: unknown = 'not called';
    const app = await nodeServer((req, res) => {
      res.end('answered first');
      void scrape(undefined).then((reply) => {
        try {
          writeScrape(req, res, reply);
          threw = undefined;
        } catch (error) {
          threw = error;
        }
      });
    });
    const client = keptAliveClient(app.port);
    expect(await client.get('/')).toEqual({ status: 200, body: 'answered first', reused: false });
    await eventually(() => expect(threw).toBeUndefined());
    expect(await client.get('/')).toEqual({ status: 200, body: 'answered first', reused: true });
    client.close();
    await app.close();
  });
});

describe('serveMetrics: a scrape that resolves after its client left', () => {
  it('writes nothing, raises nothing, and the next scrape is answered', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 150);
    server = await serveMetrics({ port: 0, host: '127.0.0.1', registry });
    await sendAndAbort(server.port, '/metrics', 20);
    await eventually(() => expect(collector.finished).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the late scrape is rendered and written
    expect(sampleValue(parseExposition((await send(server.port, '/metrics')).body), 'collect_calls')).toBe(2);
  });
});
