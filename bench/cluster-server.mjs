// The cluster bench's server: `node bench/cluster-server.mjs <workers>`, started by the bench with an IPC
// channel (the primary pinned to the server core, its workers to the other). A Node cluster primary with
// <workers> workers, each of which has recorded one request per
// (route, method, status) of the scrape bench (6,000 label sets) with routemeter's core, prom-client's
// process metrics on. The primary serves the cluster's metrics twice, from the same workers and registries:
//   routemeter   serveMetrics({ cluster })                    → port `routemeter`
//   prom-client  AggregatorRegistry.clusterMetrics() over HTTP → port `promClient`
// and answers the bench over IPC: `touch` → every worker records one more request on a tenth of its label sets,
// `loop` → the longest event-loop stall in the primary since the last `loop` (monitorEventLoopDelay, 1 ms
// resolution), `stop`.
import { spawnSync } from 'node:child_process';
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveMetrics } from '@routemeter/core';
import { createRecorder } from '@routemeter/core/adapter';
import { AggregatorRegistry } from 'prom-client';
import { LOAD_CORE, pinned } from './lib/child.mjs';
import { SCRAPE_METHODS, SCRAPE_ROUTES, SCRAPE_STATUSES } from './lib/variants.mjs';

const TOUCHED_EVERY = 10;

if (cluster.isWorker) {
  // The workers leave the server core to the primary (the load generator's core is idle during a scrape),
  // so that the primary's stall is its own work, not the workers' turn on its core.
  if (pinned) spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  // prom-client's worker half answers the AggregatorRegistry's requests with the global registry, where
  // routemeter records by default; routemeter's own half is installed by createRecorder.
  new AggregatorRegistry();
  const meter = createRecorder({ metricsPath: false }, { requestSize: () => undefined, responseSize: () => undefined });
  const labelSets = [];
  for (let i = 0; i < SCRAPE_ROUTES; i++) {
    for (const method of SCRAPE_METHODS)
      for (const status of SCRAPE_STATUSES) labelSets.push([method, `/r${i}/:id`, status]);
  }
  let n = 0;
  const record = ([method, route, status]) => {
    const methodMeter = meter.method(method);
    methodMeter.start();
    methodMeter.finish(route, status, 0.001 * (1 + (n++ % 900)), undefined, undefined);
  };
  labelSets.forEach(record);
  // `touch`: one more request on a tenth of the label sets (a different tenth each time), as traffic between two scrapes.
  let touches = 0;
  process.on('message', (message) => {
    if (message?.bench !== 'touch') return;
    const offset = touches++ % TOUCHED_EVERY;
    for (let i = offset; i < labelSets.length; i += TOUCHED_EVERY) record(labelSets[i]);
    process.send({ touched: true });
  });
  process.send({ recorded: true });
} else {
  const workers = Number(process.argv[2] ?? 4);
  if (process.send === undefined) throw new Error('bench/cluster-server.mjs runs under the bench, with an IPC channel');
  let recorded = 0;
  let touched;
  cluster.on('message', async (_worker, message) => {
    if (message?.touched === true) touched?.();
    if (message?.recorded !== true || ++recorded < workers) return;
    // Timeouts far above the scrape times: the bench measures the work, not a deadline.
    const routemeter = await serveMetrics({ port: 0, host: '127.0.0.1', cluster: { timeoutMs: 30_000 } });
    const aggregator = new AggregatorRegistry();
    const promClient = createServer(async (_req, res) => {
      try {
        const text = await aggregator.clusterMetrics();
        res.writeHead(200, { 'Content-Type': aggregator.contentType }).end(text);
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
    await new Promise((resolve) => promClient.listen(0, '127.0.0.1', resolve));
    const ports = { routemeter: routemeter.port, promClient: promClient.address().port };
    process.send({ ready: true, pid: process.pid, ports });
  });
  for (let i = 0; i < workers; i++) cluster.fork();

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.on('message', async ({ id, cmd }) => {
    if (cmd === 'touch') {
      let left = workers;
      const all = new Promise((resolve) => {
        touched = () => --left === 0 && resolve();
      });
      for (const worker of Object.values(cluster.workers)) worker.send({ bench: 'touch' });
      await all;
      process.send({ id });
    } else if (cmd === 'loop') {
      process.send({ id, maxMs: loop.max / 1e6 });
      loop.reset();
    } else if (cmd === 'stop') {
      for (const worker of Object.values(cluster.workers)) worker.process.kill();
      process.send({ id });
      setImmediate(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
