// Regression: more than 10 concurrent scrapes printed MaxListenersExceededWarning, the primary adding a
// 'message' and an 'exit' listener to every worker for every scrape. Now the primary listens once, and the
// scrapes that arrive while the workers are being asked share that one round of IPC.
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { startCluster, stopClusters } from './cluster-kit.js';

afterEach(stopClusters);

describe('100 concurrent scrapes of the cluster primary', () => {
  it('all answer, in both formats, with no MaxListenersExceededWarning, in a few rounds of IPC', async () => {
    const cluster = await startCluster({ WORKERS: '2', SLOW_COLLECT: '100', TIMEOUT_MS: '2000' });
    for (let i = 0; i < 10; i++) await send(cluster.app, `/work/${i}`);
    const asked = async () =>
      sampleValue(parseExposition((await send(cluster.metrics, '/metrics')).body), 'fixture_collections_total');
    const before = (await asked()) as number;
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(cluster.metrics, '/metrics', {
          headers: { accept: i % 2 === 0 ? 'application/openmetrics-text; version=1.0.0' : 'text/plain' },
        }),
      ),
    );
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      const labels = { method: 'GET', route: '/work/:id', status_code: '200' };
      expect(sampleValue(parseExposition(reply.body), 'http_requests_total', labels)).toBe(10);
    }
    // Each round asks both workers once (and the scrape that reads the count is one more round).
    const rounds = ((await asked()) as number) - before - 2;
    expect(rounds / 2).toBeGreaterThanOrEqual(1);
    expect(rounds / 2).toBeLessThanOrEqual(3);
    expect(cluster.stderr()).not.toContain('MaxListenersExceededWarning');
    expect(cluster.stderr()).not.toContain('did not answer');
  });
});
