import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';

const fixture = fileURLToPath(new URL('./fixtures/cluster-app.mjs', import.meta.url));
let primary: ChildProcess | undefined;

afterEach(async () => {
  if (primary && primary.exitCode === null) {
    primary.kill('SIGTERM');
    await once(primary, 'exit');
  }
  primary = undefined;
});

async function startCluster(env: Record<string, string>) {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  primary = child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  const ports = JSON.parse(line) as { app: number; metrics: number };
  return { ...ports, stderr: () => stderr };
}

describe('Node cluster', () => {
  it('serves in the primary the sum of what every worker recorded', async () => {
    const cluster = await startCluster({ WORKERS: '2' });
    const sent = 40;
    const served = new Set<string>();
    for (let i = 0; i < sent; i++) served.add((await send(cluster.app, `/work/${i}`)).body);
    expect(served).toEqual(new Set(['worker 0', 'worker 1']));
    const metrics = parseExposition((await send(cluster.metrics, '/metrics')).body);
    const labels = { method: 'GET', route: '/work/:id', status_code: '200' };
    expect(sampleValue(metrics, 'http_requests_total', labels)).toBe(sent);
    expect(sampleValue(metrics, 'http_request_duration_seconds_count', labels)).toBe(sent);
    expect(sampleValue(metrics, 'routemeter_cluster_workers')).toBe(2);
    expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(2);
  });

  it('serves the workers that answered in time, counts the one that did not, and logs it', async () => {
    const cluster = await startCluster({ WORKERS: '2', HANG_ONE: '1' });
    const started = Date.now();
    const reply = await send(cluster.metrics, '/metrics');
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    const metrics = parseExposition(reply.body);
    expect(sampleValue(metrics, 'routemeter_cluster_workers')).toBe(2);
    expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(1);
    expect(cluster.stderr()).toMatch(/routemeter: cluster worker \d+ did not answer within 400 ms/);
  });
});
