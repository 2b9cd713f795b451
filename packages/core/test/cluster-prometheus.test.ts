// The proof of issue 12 with a real cluster and a real Prometheus: 3 workers under known traffic, one of them
// frozen (SIGSTOP) well past the primary's timeout, another SIGKILLed and restarted by the primary, and
// Prometheus scraping the primary every second twice over: once in OpenMetrics (what it asks for) and once
// through a proxy that asks for the text format. Prometheus must see no counter reset, and an increase within
// 2% of the requests the traffic got answers for (the killed worker's last second is what may be missing).
import { createServer, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { close, eventually, listen, send } from '../../../test-kit/http.js';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { startCluster, stopClusters } from './cluster-kit.js';

let prometheus: RunningPrometheus | undefined;
const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await prometheus?.stop();
  prometheus = undefined;
  await Promise.all(servers.splice(0).map(close));
  await stopClusters();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Forwards scrapes to the primary, with `accept` instead of Prometheus's Accept if given; keeps each Content-Type. */
async function scrapeProxy(target: number, accept?: string) {
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    const headers = { accept: accept ?? req.headers.accept ?? '' };
    const upstream = request({ host: '127.0.0.1', port: target, path: '/metrics', headers, agent: false }, (reply) => {
      contentTypes.push(String(reply.headers['content-type']));
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    upstream.end();
  });
  servers.push(server);
  return { port: await listen(server), contentTypes };
}

/** `loops` clients sending GET /work/n one after another, pausing `pauseMs` between requests, until `signal`. */
async function traffic(app: number, loops: number, pauseMs: number, signal: AbortSignal): Promise<number> {
  let answered = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; !signal.aborted; i++) {
        try {
          if ((await send(app, `/work/${loop}-${i}`, { timeoutMs: 8000 })).status === 200) answered++;
        } catch {
          // Refused or reset by the worker being killed (or handed to it as it died, and never answered):
          // not answered, so not expected in the metrics.
        }
        await sleep(pauseMs);
      }
    }),
  );
  return answered;
}

interface Matrix {
  metric: Record<string, string>;
  values: [number, string][];
}

async function query<T>(expr: string, time?: number): Promise<T[]> {
  const at = time === undefined ? '' : `&time=${time}`;
  const res = await fetch(`${prometheus?.url}/api/v1/query?query=${encodeURIComponent(expr)}${at}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: T[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

const scalar = async (expr: string, time?: number) => {
  const [result] = await query<{ value: [number, string] }>(expr, time);
  if (result === undefined) throw new Error(`${expr}: no result`);
  return Number(result.value[1]);
};

describe('Node cluster under a real Prometheus', () => {
  it('no counter resets and increase() within 2% of the requests answered, across a hang and a kill', async () => {
    const cluster = await startCluster({ WORKERS: '3', RESTART: '1', TIMEOUT_MS: '300' });
    const warmUp = 30;
    for (let i = 0; i < warmUp; i++) expect((await send(cluster.app, `/work/${i}`)).status).toBe(200);

    const openMetrics = await scrapeProxy(cluster.metrics);
    const text = await scrapeProxy(cluster.metrics, 'text/plain; version=0.0.4');
    const jobs = ['cluster-openmetrics', 'cluster-text'];
    prometheus = await startPrometheus(
      [
        { job: 'cluster-openmetrics', port: openMetrics.port },
        { job: 'cluster-text', port: text.port },
      ],
      [],
      1000,
    );
    await prometheus.waitForScrapes();
    const series = (job: string) => `http_requests_total{job="${job}",route="/work/:id"}`;
    for (const job of jobs) expect(await scalar(series(job))).toBe(warmUp);

    const workers = await cluster.workers();
    const byIndex = (index: number) => workers.find((w) => w.index === index) as { pid: number; id: number };
    const stop = new AbortController();
    const sent = traffic(cluster.app, 4, 20, stop.signal);
    await sleep(3000);
    process.kill(byIndex(1).pid, 'SIGSTOP'); // hung for 2.5 s: past the 300 ms timeout, and past two scrapes
    await sleep(2500);
    process.kill(byIndex(1).pid, 'SIGCONT');
    await sleep(2500);
    process.kill(byIndex(2).pid, 'SIGKILL'); // the primary forks a new worker, which starts from zero
    await sleep(6000);
    stop.abort();
    const answered = await sent;

    // Two more scrapes of each job after the last request, the restarted worker answering.
    const settled = Date.now() + 300;
    await prometheus.waitForScrapes(settled);
    await prometheus.waitForScrapes(Date.now());
    expect(cluster.exits).toMatchObject([{ index: 2, signal: 'SIGKILL' }]);
    expect(answered).toBeGreaterThan(1000);

    for (const job of jobs) {
      const [matrix] = await query<Matrix>(`${series(job)}[5m]`);
      const samples = (matrix?.values ?? []).map(([t, v]) => [t, Number(v)] as const);
      const [firstAt, first] = samples[0] ?? [0, 0];
      const [lastAt, last] = samples.at(-1) ?? [0, 0];
      expect(first, job).toBe(warmUp);
      for (let i = 1; i < samples.length; i++) {
        expect((samples[i] as readonly [number, number])[1], `${job} sample ${i}`).toBeGreaterThanOrEqual(
          (samples[i - 1] as readonly [number, number])[1],
        );
      }
      expect(await scalar(`resets(${series(job)}[5m])`), job).toBe(0);
      // The window from the first sample to the last, evaluated at the last: increase() without extrapolation.
      const windowMs = Math.round((lastAt - firstAt) * 1000);
      const increase = await scalar(`increase(${series(job)}[${windowMs}ms])`, lastAt);
      expect(increase, job).toBe(last - first);
      expect(
        Math.abs(increase - answered) / answered,
        `${job}: ${increase} counted, ${answered} answered`,
      ).toBeLessThan(0.02);
      // The faults were seen: a worker served stale while frozen, and three workers in the end.
      expect(await scalar(`min_over_time(routemeter_cluster_workers_answered{job="${job}"}[5m])`), job).toBeLessThan(3);
      expect(
        await scalar(`max_over_time(routemeter_cluster_worker_stale{job="${job}",worker="${byIndex(1).id}"}[5m])`),
      ).toBe(1);
      expect(await scalar(`routemeter_cluster_workers_answered{job="${job}"}`), job).toBe(3);
    }
    expect(new Set(openMetrics.contentTypes)).toEqual(
      new Set(['application/openmetrics-text; version=1.0.0; charset=utf-8']),
    );
    expect(new Set(text.contentTypes)).toEqual(new Set(['text/plain; version=0.0.4; charset=utf-8']));
    await eventually(async () => expect((await cluster.workers()).length).toBe(3));
  }, 60_000);
});
