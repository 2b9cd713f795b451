// A plain node:http server metered through `@routemeter/core/adapter`: the whole of what an adapter for any
// framework does, in one file. The framework's part is the router below (your framework has its own); the
// adapter's part is `metered` and `record`: they tell core when a request starts, which route template it
// matched, and when its response is done with. Everything else (labels and their bounds, `exclude`, the status of an
// aborted response, the callbacks' fallbacks, `/metrics` and its `auth`) is decided in core.
//
//   PORT=3000 node server.js          (HOST defaults to 127.0.0.1)
//
//   GET  /users/:id     a route with a parameter: one series, whatever the id
//   POST /orders        201, or 500 with ?fail=1
//   GET  /slow?ms=250   answers after ms (at most 5 s): a client that leaves first is recorded as 499
//   GET  /metrics       served by routemeter
// Anything else is a 404, recorded under the one route label `#unmatched`.
import { createServer } from 'node:http';
import { closedStatus, createRecorder, onResponseClosed, pathOf, writeScrape } from '@routemeter/core/adapter';

// The app's router: templates compiled once. A framework knows them (Fastify's onRoute, Koa's router...).
const routes = [
  route('GET', '/users/:id', (_req, res, { id }) => reply(res, 200, { id })),
  route('GET', '/slow', (req, res) => {
    const ms = Math.min(5000, Number(new URL(req.url, 'http://x').searchParams.get('ms')) || 0);
    const timer = setTimeout(() => reply(res, 200, { sleptMs: ms }), ms);
    res.once('close', () => clearTimeout(timer));
  }),
  route('POST', '/orders', (req, res) =>
    new URL(req.url, 'http://x').searchParams.get('fail') === '1'
      ? reply(res, 500, { error: 'payment provider unavailable' })
      : reply(res, 201, { order: 1 }),
  ),
];

function route(method, template, handle) {
  const names = [];
  const source = template.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  return { method, template, handle, pattern: new RegExp(`^${source}$`), names };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

// The adapter: options validated here, once (an invalid one throws, naming it).
const recorder = createRecorder({ requestsInFlight: true });
const { metricsPath } = recorder.options;
// Routes known up front: each bound to its recorder once, so a request costs one lookup.
for (const r of routes) r.recorder = recorder.route([r.method], r.template);

function metered(req, res) {
  const path = pathOf(req.url ?? '/');
  if (path === metricsPath && (req.method === 'GET' || req.method === 'HEAD')) {
    recorder.scrape(req.headers.accept, req.headers.authorization, req).then(
      (scrape) => writeScrape(req, res, scrape),
      () => reply(res, 500, { error: 'scrape failed' }),
    );
    return;
  }
  const matched = routes.find((r) => r.method === req.method && r.pattern.test(path));
  if (!recorder.isExcluded(path, req)) record(req, res, matched?.recorder ?? recorder.unmatched);
  if (matched === undefined) return reply(res, 404, { error: 'not found' });
  const values = matched.pattern.exec(path).slice(1);
  matched.handle(req, res, Object.fromEntries(matched.names.map((name, i) => [name, values[i]])));
}

function record(req, res, routeRecorder) {
  const start = performance.now();
  routeRecorder.start(req.method);
  // Exactly once per request: finished, aborted by the client, or queued behind a closed connection.
  onResponseClosed(req, res, () => {
    const seconds = (performance.now() - start) / 1000;
    routeRecorder.finish(req.method, closedStatus(res.headersSent, res.statusCode), seconds, req, res);
  });
}

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const server = createServer(metered).listen(port, host, () => {
  const { address, port: bound } = server.address();
  console.log(`node-http listening on http://${address}:${bound}`);
});

function shutdown(signal) {
  console.log(`node-http: ${signal}, shutting down`);
  recorder.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
