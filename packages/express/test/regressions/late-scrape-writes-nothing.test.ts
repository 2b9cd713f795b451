import { createServer, type Server } from 'node:http';
import { type ExpressRoutemeterOptions, routemeter } from '@routemeter/express';
import express, { type RequestHandler } from 'express';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { close, eventually, listen, sendAndAbort } from '../../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../../test-kit/metrics-text.js';
import { countingCollector, keptAliveClient, watchProcessErrors } from '../../../../test-kit/scrapers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What a timeout middleware (connect-timeout and the like) does, answering 503 when nothing was sent in
 * time; for the first request only, so that the next one shows what the app answers afterwards.
 */
function timeoutFirst(ms: number): RequestHandler {
  let first = true;
  return (_req, res, next) => {
    if (first) {
      first = false;
      const timer = setTimeout(() => {
        if (!res.headersSent) res.status(503).send('timed out');
      }, ms);
      res.on('close', () => clearTimeout(timer));
    }
    next();
  };
}

let server: Server | undefined;
let watch: ReturnType<typeof watchProcessErrors> | undefined;
afterEach(async () => {
  watch?.stop();
  watch = undefined;
  if (server) await close(server);
  server = undefined;
});

async function start(options: ExpressRoutemeterOptions, before?: RequestHandler): Promise<number> {
  const app = express();
  if (before) app.use(before);
  app.use(routemeter({ defaultMetrics: false, ...options }));
  server = createServer(app);
  return listen(server);
}

describe('a scrape that resolves after the response was sent', () => {
  it('by a timeout middleware, while an async auth predicate ran: writes nothing, raises nothing', async () => {
    watch = watchProcessErrors();
    let checks = 0;
    let decided = 0;
    const registry = new Registry();
    const port = await start(
      {
        registry,
        async auth() {
          checks += 1;
          if (checks === 1) await sleep(100);
          decided += 1;
          return true;
        },
      },
      timeoutFirst(20),
    );
    const client = keptAliveClient(port);
    expect(await client.get('/metrics')).toEqual({ status: 503, body: 'timed out', reused: false });
    await eventually(() => expect(decided).toBe(1));
    await sleep(20);
    // The process is alive and the same connection answers the next scrape, uncorrupted.
    const next = await client.get('/metrics');
    expect([next.status, next.reused]).toEqual([200, true]);
    expect(parseExposition(next.body).types.get('http_requests_total')).toBe('counter');
    expect(watch.errors).toEqual([]);
    client.close();
  });

  it('by a timeout middleware, while a slow registry was collected: writes nothing, raises nothing', async () => {
    watch = watchProcessErrors();
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 100);
    const port = await start({ registry }, timeoutFirst(20));
    const client = keptAliveClient(port);
    expect(await client.get('/metrics')).toEqual({ status: 503, body: 'timed out', reused: false });
    await eventually(() => expect(collector.finished).toBe(1));
    await sleep(20);
    const next = await client.get('/metrics');
    expect([next.status, next.reused]).toEqual([200, true]);
    expect(sampleValue(parseExposition(next.body), 'collect_calls')).toBe(2);
    expect(watch.errors).toEqual([]);
    client.close();
  });

  it('after its client left: writes nothing, raises nothing, and the next scrape is answered', async () => {
    watch = watchProcessErrors();
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 100);
    const port = await start({ registry });
    await sendAndAbort(port, '/metrics', 20);
    await eventually(() => expect(collector.finished).toBe(1));
    await sleep(20);
    const client = keptAliveClient(port);
    const next = await client.get('/metrics');
    expect(next.status).toBe(200);
    expect(sampleValue(parseExposition(next.body), 'collect_calls')).toBe(2);
    expect(watch.errors).toEqual([]);
    client.close();
  });
});
