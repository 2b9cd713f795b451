// A Fastify 5 service instrumented with routemeter: every request counted and timed by route template,
// served with the app's own prom-client metrics on GET /metrics.
//
//   PORT=3000 node server.js          (HOST defaults to 127.0.0.1; the Docker image sets HOST=0.0.0.0)
//
// Routes, each chosen for what it shows in the metrics:
//   GET  /users/:id                      a route with a parameter: one series, whatever the id
//   GET  /orgs/:org/repos/:repo          a plugin registered with a prefix: the label is the full template
//   GET  /orgs/:org/repos/:repo/stars
//   GET  /slow?ms=250                    a slow route (random 50-400 ms without ?ms, at most 5 s)
//   POST /orders?fail=1                  fails sometimes: ?fail=1 always 500, ?fail=0 never, else FAIL_RATE (0.1)
//   GET  /stream?chunks=5                a streamed response (a Readable), timed to its last byte
//   GET  /metrics                        served by routemeter
// Anything else is a 404, recorded under the one route label `#unmatched`.
import { Readable } from 'node:stream';
import { routemeter } from '@routemeter/fastify';
import Fastify from 'fastify';
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

const app = Fastify({ logger: process.env.LOG_LEVEL ? { level: process.env.LOG_LEVEL } : false });

// Registered before the routes, so that its onRoute hook sees each of them.
// In-flight adds http_requests_in_flight{method}. METRICS_TOKEN, when set (the Kubernetes example's Secret),
// turns on `auth`: scrapes without it get 401. NATIVE_HISTOGRAMS=1 adds native histograms
// (`npm run demo -- --native-histograms`).
const metricsToken = process.env.METRICS_TOKEN;
await app.register(routemeter, {
  requestsInFlight: true,
  auth: metricsToken === undefined ? undefined : { bearer: metricsToken },
  nativeHistograms: process.env.NATIVE_HISTOGRAMS === '1',
});

app.get('/users/:id', async (request) => ({ id: request.params.id, name: `user ${request.params.id}` }));

async function repos(instance) {
  instance.get('/:repo', async (request) => ({ org: request.params.org, repo: request.params.repo }));
  instance.get('/:repo/stars', async (request) => ({
    org: request.params.org,
    repo: request.params.repo,
    stars: request.params.repo.length * 7,
  }));
}
await app.register(repos, { prefix: '/orgs/:org/repos' });

app.get('/slow', async (request) => {
  const { ms: asked } = request.query;
  const ms = asked === undefined ? 50 + Math.random() * 350 : clamp(Number(asked) || 0, 0, 5000);
  await sleep(ms);
  return { sleptMs: Math.round(ms) };
});

app.post('/orders', async (request, reply) => {
  const { fail: forced } = request.query;
  const fail = forced === '1' || (forced !== '0' && Math.random() < failRate);
  await sleep(5);
  if (fail) {
    orders.inc({ outcome: 'failed' });
    // Fastify answers a thrown error with a JSON 500.
    throw new Error('payment provider unavailable');
  }
  orders.inc({ outcome: 'placed' });
  return reply.code(201).send({ order: Math.floor(Math.random() * 1e6) });
});

app.get('/stream', async (request, reply) => {
  const chunks = clamp(Number(request.query.chunks) || 5, 1, 50);
  async function* lines() {
    for (let i = 1; i <= chunks; i++) {
      yield `line ${i} of ${chunks}\n`;
      await sleep(20);
    }
  }
  return reply.type('text/plain').send(Readable.from(lines()));
});

await app.listen({ port, host });
const { address, port: bound } = app.server.address();
console.log(`fastify-service listening on http://${address}:${bound}`);

// Clean shutdown: stop accepting, let requests in progress finish (at most 5 s), then exit.
async function shutdown(signal) {
  console.log(`fastify-service: ${signal}, shutting down`);
  setTimeout(() => process.exit(0), 5000).unref();
  await app.close();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
