// An Express 5 service instrumented with routemeter: every request counted and timed by route template,
// served with the app's own prom-client metrics on GET /metrics.
//
//   PORT=3000 node server.js          (HOST defaults to 127.0.0.1; the Docker image sets HOST=0.0.0.0)
//   node cluster.js                   the same as a Node cluster, its metrics served by the primary
//
// Routes, each chosen for what it shows in the metrics:
//   GET  /users/:id                      a route with a parameter: one series, whatever the id
//   GET  /orgs/:org/repos/:repo          a nested router: the label joins the mount path and the route
//   GET  /orgs/:org/repos/:repo/stars
//   GET  /slow?ms=250                    a slow route (random 50-400 ms without ?ms, at most 5 s)
//   POST /orders?fail=1                  fails sometimes: ?fail=1 always 500, ?fail=0 never, else FAIL_RATE (0.1)
//   GET  /stream?chunks=5                a streamed (chunked) response, timed to its last byte
//   GET  /metrics                        served by routemeter (in a cluster worker: by the primary, not here)
// Anything else is a 404, recorded under the one route label `#unmatched`.
import cluster from 'node:cluster';
import { routemeter } from '@routemeter/express';
import express from 'express';
import { Counter } from 'prom-client';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const failRate = Number(process.env.FAIL_RATE ?? 0.1);

// The app's own business metric, on prom-client's global registry: routemeter serves the same registry.
const orders = new Counter({
  name: 'shop_orders_total',
  help: 'Orders placed, by outcome.',
  labelNames: ['outcome'],
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clamp = (value, min, max) => Math.min(max, Math.max(min, value));

const app = express();
app.disable('x-powered-by');
// Before the routes, so that it sees every request. In-flight adds http_requests_in_flight{method}.
// A cluster worker serves no /metrics of its own: its primary (cluster.js) serves the whole cluster's.
// METRICS_TOKEN, when set (the Kubernetes example's Secret), turns on `auth`: scrapes without it get 401.
// NATIVE_HISTOGRAMS=1 adds native histograms (`npm run demo -- --native-histograms`).
const metricsToken = process.env.METRICS_TOKEN;
app.use(
  routemeter({
    requestsInFlight: true,
    metricsPath: cluster.isWorker ? false : '/metrics',
    auth: metricsToken === undefined ? undefined : { bearer: metricsToken },
    nativeHistograms: process.env.NATIVE_HISTOGRAMS === '1',
  }),
);

app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `user ${req.params.id}` });
});

const repos = express.Router({ mergeParams: true });
repos.get('/:repo', (req, res) => {
  res.json({ org: req.params.org, repo: req.params.repo });
});
repos.get('/:repo/stars', (req, res) => {
  res.json({ org: req.params.org, repo: req.params.repo, stars: req.params.repo.length * 7 });
});
app.use('/orgs/:org/repos', repos);

app.get('/slow', async (req, res) => {
  const ms = req.query.ms === undefined ? 50 + Math.random() * 350 : clamp(Number(req.query.ms) || 0, 0, 5000);
  await sleep(ms);
  res.json({ sleptMs: Math.round(ms) });
});

app.post('/orders', async (req, res) => {
  const fail = req.query.fail === '1' || (req.query.fail !== '0' && Math.random() < failRate);
  await sleep(5);
  if (fail) {
    orders.inc({ outcome: 'failed' });
    // Express 5 sends a rejected promise to the error handler below.
    throw new Error('payment provider unavailable');
  }
  orders.inc({ outcome: 'placed' });
  res.status(201).json({ order: Math.floor(Math.random() * 1e6) });
});

app.get('/stream', async (req, res) => {
  const chunks = clamp(Number(req.query.chunks) || 5, 1, 50);
  res.type('text/plain');
  for (let i = 1; i <= chunks; i++) {
    if (res.destroyed) return;
    res.write(`line ${i} of ${chunks}\n`);
    await sleep(20);
  }
  res.end();
});

// A JSON 500 rather than Express's HTML page with the stack trace.
app.use((error, _req, res, _next) => {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  res.status(500).json({ error: error.message });
});

const server = app.listen(port, host, (error) => {
  if (error) throw error;
  const { address, port: bound } = server.address();
  console.log(`express-service listening on http://${address}:${bound}`);
});

// Clean shutdown: stop accepting, let requests in progress finish (at most 5 s), then exit.
function shutdown(signal) {
  console.log(`express-service: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 5000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
