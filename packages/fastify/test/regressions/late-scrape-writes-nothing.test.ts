import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, sendAndAbort } from '../../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../../test-kit/metrics-text.js';
import { countingCollector, keptAliveClient, watchProcessErrors } from '../../../../test-kit/scrapers.js';
import { type Served, serve } from '../serve.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fastify's log lines at warn level and above. */
function warnings() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { lines, logger: { level: 'warn', stream } };
}

/** A hook that answers 503 when the first request is not answered in time (as a timeout plugin would). */
function timeoutFirst(ms: number) {
  return (app: FastifyInstance) => {
    let first = true;
    app.addHook('onRequest', (_request, reply, done) => {
      if (first) {
        first = false;
        const timer = setTimeout(() => {
          if (!reply.sent) reply.code(503).send('timed out');
        }, ms);
        reply.raw.on('close', () => clearTimeout(timer));
      }
      done();
    });
  };
}

let served: Served | undefined;
let watch: ReturnType<typeof watchProcessErrors> | undefined;
afterEach(async () => {
  watch?.stop();
  watch = undefined;
  await served?.close();
  served = undefined;
});

describe('a scrape that resolves after the reply was sent', () => {
  it('by a hook, while an async auth predicate ran: sends nothing, logs nothing, raises nothing', async () => {
    watch = watchProcessErrors();
    const log = warnings();
    let checks = 0;
    let decided = 0;
    served = await serve(
      timeoutFirst(20),
      {
        async auth() {
          checks += 1;
          if (checks === 1) await sleep(100);
          decided += 1;
          return true;
        },
      },
      { logger: log.logger },
    );
    const client = keptAliveClient(served.port);
    expect(await client.get('/metrics')).toEqual({ status: 503, body: 'timed out', reused: false });
    await eventually(() => expect(decided).toBe(1));
    await sleep(20);
    const next = await client.get('/metrics');
    expect([next.status, next.reused]).toEqual([200, true]);
    expect(parseExposition(next.body).types.get('http_requests_total')).toBe('counter');
    expect([log.lines, watch.errors]).toEqual([[], []]);
    client.close();
  });

  it('after its client left: sends nothing, logs nothing, and the next scrape is answered', async () => {
    watch = watchProcessErrors();
    const log = warnings();
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 100);
    served = await serve(() => {}, { registry }, { logger: log.logger });
    await sendAndAbort(served.port, '/metrics', 20);
    await eventually(() => expect(collector.finished).toBe(1));
    await sleep(20);
    expect(sampleValue(await served.scrape(), 'collect_calls')).toBe(2);
    expect([log.lines, watch.errors]).toEqual([[], []]);
  });
});
