// Regression: a worker killed in the same tick as a scrape crashed the primary with an uncaught `write EPIPE`
// (the send to the dead worker's IPC channel failed, and nobody listened for the 'error' Node emitted).
// And its mirror in the workers: an answer sent after the channel to the primary closed must not crash them.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, send } from '../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { startCluster, stopClusters } from './cluster-kit.js';

afterEach(stopClusters);

const WORK = { method: 'GET', route: '/work/:id', status_code: '200' };

describe('cluster IPC failures crash nobody', () => {
  it('the primary survives workers SIGKILLed in the same tick as a scrape, and keeps their counts', async () => {
    const cluster = await startCluster({ WORKERS: '2', RESTART: '1' });
    for (let i = 0; i < 10; i++) expect((await send(cluster.app, `/work/${i}`)).status).toBe(200);
    await send(cluster.metrics, '/metrics'); // both workers' counts are now in the primary
    const kills = 8;
    for (let round = 0; round < kills; round++) {
      const [victim] = await cluster.workers();
      if (victim === undefined) throw new Error('no worker');
      await cluster.controlPost(`/kill-in-scrape?index=${victim.index}`);
      const reply = await send(cluster.metrics, '/metrics');
      expect(reply.status).toBe(200);
      expect(sampleValue(parseExposition(reply.body), 'http_requests_total', WORK)).toBe(10);
      // The replacement is up and answering before the next round.
      await eventually(async () => {
        const metrics = parseExposition((await send(cluster.metrics, '/metrics')).body);
        expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(2);
      }, 10_000);
    }
    expect(cluster.exits.filter((exit) => exit.signal === 'SIGKILL').length).toBe(kills);
    // Every one of those scrapes wrote to the channel of a worker already dead: what used to throw EPIPE.
    expect(cluster.killedInScrape.map((kill) => kill.connected)).toEqual(Array(kills).fill(true));
    expect(cluster.primary.exitCode).toBeNull();
    expect(cluster.stderr()).not.toMatch(/Unhandled 'error' event|uncaught|^\s+at /im);
  });

  it('a worker whose channel to the primary closed while it collected exits cleanly', async () => {
    const cluster = await startCluster({ WORKERS: '1', SLOW_COLLECT: '300', TIMEOUT_MS: '1000' });
    const scrape = send(cluster.metrics, '/metrics');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the worker has the request and is collecting
    await cluster.controlPost('/disconnect?index=0');
    expect((await scrape).status).toBe(200);
    await eventually(() => expect(cluster.exits.length).toBe(1), 5000);
    expect(cluster.exits[0]).toMatchObject({ code: 0, signal: null });
    expect(cluster.stderr()).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|EPIPE/);
  });
});
