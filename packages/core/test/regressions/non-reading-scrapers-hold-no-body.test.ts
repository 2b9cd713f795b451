import type { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bodyLength,
  heldBytes,
  recordLabelSets,
  settledHeldBytes,
  stalledScraper,
} from '../../../../test-kit/scrapers.js';
import { createRecorder } from '../../src/adapter.js';
import { type MetricsServer, serveMetrics } from '../../src/index.js';

const sizes = { requestSize: () => undefined, responseSize: () => undefined };
const CLIENTS = 8;

let server: MetricsServer | undefined;
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  await server?.close();
  server = undefined;
});

describe('scrapers that never read', () => {
  it(`hold far less than a body between ${CLIENTS} of them, and the server answers once they leave`, async () => {
    const registry = new Registry();
    recordLabelSets(createRecorder({ registry, defaultMetrics: false }, sizes), 5000);
    server = await serveMetrics({ port: 0, host: '127.0.0.1', registry });
    const port = server.port;
    const { bytes: body } = await bodyLength(port); // renders once, so every series' text is cached
    expect(body).toBeGreaterThan(5_000_000);

    const before = heldBytes();
    sockets = await Promise.all(Array.from({ length: CLIENTS }, () => stalledScraper(port)));
    const held = (await settledHeldBytes()) - before;
    // Each used to hold a whole copy: CLIENTS bodies.
    expect(held).toBeLessThan(body / 2);

    for (const socket of sockets) socket.destroy();
    expect(await bodyLength(port)).toEqual({ status: 200, bytes: body });
  });
});
