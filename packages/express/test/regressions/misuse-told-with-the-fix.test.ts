import { createServer } from 'node:http';
import { routemeter } from '@routemeter/express';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, expect, it, vi } from 'vitest';
import { close, listen, send } from '../../../../test-kit/http.js';
import { countsOf, parseExposition } from '../../../../test-kit/metrics-text.js';

// Regression: `app.use(routemeter)` (the factory, not called) passed tsc and made every request a 500
// with "option `_events` is not an option"; routes added before `app.use(routemeter())`, and (Express 4)
// routers built before @routemeter/express was imported, gave missing or wrong labels with no warning.
const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => close(server)));
  vi.restoreAllMocks();
});

async function start(app: express.Express): Promise<number> {
  const server = createServer(app);
  servers.push(server);
  return listen(server);
}

it('keeps serving and says how to call it when the factory itself is passed to app.use', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const app = express();
  app.use(routemeter as unknown as express.RequestHandler);
  app.get('/users/:id', (_req, res) => {
    res.send('user');
  });
  const port = await start(app);
  expect((await send(port, '/users/1')).status).toBe(200);
  expect((await send(port, '/users/2')).status).toBe(200);
  expect(warn.mock.calls).toEqual([
    [
      'routemeter: `app.use(routemeter)` passes the factory itself, so nothing is recorded: call it, `app.use(routemeter())`',
    ],
  ]);
});

it('warns once, at the first request, of the routes added before the middleware', async () => {
  const warnings: string[] = [];
  const app = express();
  app.get('/early', (_req, res) => {
    res.send('early');
  });
  const router = express.Router();
  router.post('/:id', (_req, res) => {
    res.send('posted');
  });
  app.use('/items', router);
  app.use(routemeter({ registry: new Registry(), defaultMetrics: false, logger: { warn: (m) => warnings.push(m) } }));
  app.get('/late', (_req, res) => {
    res.send('late');
  });
  const port = await start(app);
  await send(port, '/early');
  expect(warnings).toEqual([]); // it never reached the middleware
  await send(port, '/late');
  await send(port, '/late');
  expect(warnings).toEqual([
    'routemeter: 2 routes were added before `app.use(routemeter())` and are not recorded (GET /early, POST /items/:id): call `app.use(routemeter())` before adding routes',
  ]);
  expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({ 'GET /late 200': 2 });
});

it('warns when a router was mounted before routemeter could record its mount path', async () => {
  const warnings: string[] = [];
  const app = express();
  app.use(routemeter({ registry: new Registry(), defaultMetrics: false, logger: { warn: (m) => warnings.push(m) } }));
  const router = express.Router();
  router.get('/:post', (_req, res) => {
    res.send('post');
  });
  app.use('/users/:user', router);
  // What a router built before the import looks like: its mount layer carries no recorded path.
  const stack = (
    (app as unknown as { _router?: { stack: object[] } })._router ??
    (app as unknown as { router: { stack: object[] } }).router
  ).stack;
  const mount = stack[stack.length - 1] as Record<string | symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(mount)) delete mount[key];
  delete mount.rawPath;
  const port = await start(app);
  await send(port, '/users/ann/hello');
  await send(port, '/users/bob/again');
  expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({ 'GET */:post 200': 2 });
  expect(warnings).toEqual([
    "routemeter: route '*/:post' is reached through a router mounted before @routemeter/express was imported, so its mount path is labelled '*': import @routemeter/express before the modules that build your routers",
  ]);
});

it("warns once when another middleware calls it (NestJS's consumer.apply(routemeter()).forRoutes)", async () => {
  const warnings: string[] = [];
  const app = express();
  const meter = routemeter({
    registry: new Registry(),
    defaultMetrics: false,
    logger: { warn: (m) => warnings.push(m) },
  });
  app.use('/api', (req, res, next) => meter(req, res, next));
  app.get('/api/users/:id', (_req, res) => {
    res.send('user');
  });
  const port = await start(app);
  await send(port, '/api/users/1');
  await send(port, '/api/users/2');
  expect(warnings).toEqual([
    "routemeter: the middleware is called by another middleware, not added to the app (NestJS's `consumer.apply(routemeter()).forRoutes(…)` does this), so it records only the requests that one passes on and cannot serve metricsPath beyond them: with NestJS, import `RoutemeterModule.forRoot()` from @routemeter/nestjs; otherwise `app.use(routemeter())` before your routes",
  ]);
  expect((await send(port, '/metrics')).status).toBe(404);
});

it('does not warn when it is on a router of the app', async () => {
  const warnings: string[] = [];
  const app = express();
  const router = express.Router();
  router.use(
    routemeter({ registry: new Registry(), defaultMetrics: false, logger: { warn: (m) => warnings.push(m) } }),
  );
  router.get('/users/:id', (_req, res) => {
    res.send('user');
  });
  app.use('/v2', router);
  const port = await start(app);
  expect((await send(port, '/v2/users/1')).status).toBe(200);
  expect(warnings).toEqual([]);
});
