// The same Express service as a Node cluster: WORKERS copies of server.js share PORT, and this primary serves
// the cluster's metrics on METRICS_PORT with serveMetrics({ cluster }) from @routemeter/core. A worker that
// dies is replaced. Counters never go down through hangs, crashes and restarts (see the "Node cluster"
// section of packages/core/README.md); routemeter_cluster_workers_answered says which workers answered.
//
//   WORKERS=3 PORT=3000 METRICS_PORT=9464 node cluster.js      (HOST defaults to 127.0.0.1)
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { serveMetrics } from '@routemeter/core';

const workers = Number(process.env.WORKERS ?? 3);
const host = process.env.HOST ?? '127.0.0.1';

cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.js', import.meta.url)) });
let stopping = false;
cluster.on('online', (worker) => {
  console.log(`express-service: worker ${worker.id} (pid ${worker.process.pid}) started`);
});
cluster.on('exit', (worker, code, signal) => {
  if (stopping) {
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    return;
  }
  console.log(
    `express-service: worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? code}); starting another`,
  );
  cluster.fork();
});
for (let i = 0; i < workers; i++) cluster.fork();

// Below Prometheus's scrape_timeout, so that a hung worker costs its freshness, not the whole scrape.
// METRICS_TOKEN, when set, turns on `auth` here as in server.js.
const metricsToken = process.env.METRICS_TOKEN;
const metrics = await serveMetrics({
  port: Number(process.env.METRICS_PORT ?? 9464),
  host,
  cluster: { timeoutMs: 500 },
  auth: metricsToken === undefined ? undefined : { bearer: metricsToken },
});
console.log(`express-service: cluster metrics on http://${host}:${metrics.port}/metrics`);

// Clean shutdown: each worker finishes its requests (server.js stops on SIGTERM); then the primary exits.
function shutdown(signal) {
  stopping = true;
  console.log(`express-service: ${signal}, stopping ${Object.keys(cluster.workers).length} workers`);
  metrics.close();
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  if (Object.keys(cluster.workers).length === 0) process.exit(0);
  setTimeout(() => process.exit(0), 6000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
