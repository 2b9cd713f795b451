import type { Socket } from 'node:net';
import { createRecorder } from '@routemeter/core/adapter';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../../test-kit/http.js';
import {
  bodyLength,
  countingCollector,
  heldBytes,
  recordLabelSets,
  settledHeldBytes,
  stalledScraper,
} from '../../../../test-kit/scrapers.js';
import { type Served, serve } from '../serve.js';

const CLIENTS = 8;
const noRoutes = () => {};

let served: Served | undefined;
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  await served?.close();
  served = undefined;
});

describe('scrapes share work and memory', () => {
  it('10 concurrent scrapes collect the registry once and get the same body', async () => {
    const registry = new Registry();
    const collector = countingCollector(Gauge, registry, 50);
    served = await serve(noRoutes, { registry });
    const port = served.port;
    const replies = await Promise.all(Array.from({ length: 10 }, () => send(port, '/metrics')));
    expect(collector.calls).toBe(1);
    expect(new Set(replies.map((reply) => `${reply.status} ${reply.body}`)).size).toBe(1);
  });

  it('HEAD answers with the Content-Length of GET and no body', async () => {
    served = await serve(noRoutes);
    const port = served.port;
    const get = await send(port, '/metrics');
    const head = await send(port, '/metrics', { method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-length']]).toEqual([
      200,
      '',
      String(Buffer.byteLength(get.body)),
    ]);
  });

  it(`${CLIENTS} scrapers that never read hold far less than one body`, async () => {
    const registry = new Registry();
    served = await serve(noRoutes, { registry });
    recordLabelSets(
      createRecorder(
        { registry, defaultMetrics: false },
        { requestSize: () => undefined, responseSize: () => undefined },
      ),
      5000,
    );
    const port = served.port;
    const { bytes: body } = await bodyLength(port);
    expect(body).toBeGreaterThan(5_000_000);

    const before = heldBytes();
    sockets = await Promise.all(Array.from({ length: CLIENTS }, () => stalledScraper(port)));
    expect((await settledHeldBytes()) - before).toBeLessThan(body / 2);

    for (const socket of sockets) socket.destroy();
    expect(await bodyLength(port)).toEqual({ status: 200, bytes: body });
  });
});
