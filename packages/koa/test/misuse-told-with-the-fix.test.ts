import { createServer } from 'node:http';
import Router from '@koa/router';
import { routemeter } from '@routemeter/koa';
import type Koa from 'koa';
import { Registry } from 'prom-client';
import { afterEach, expect, it, vi } from 'vitest';
import { close, listen, send } from '../../../test-kit/http.js';
import { countsOf, parseExposition } from '../../../test-kit/metrics-text.js';
import { quietApp } from './serve.js';

// The mistakes a Koa user makes with a middleware that must come first: each keeps the app serving and is
// told once, with the fix, at the first request routemeter sees.
const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => close(server)));
  vi.restoreAllMocks();
});

async function start(app: Koa): Promise<number> {
  const server = createServer(app.callback());
  servers.push(server);
  return listen(server);
}

function told() {
  const warnings: string[] = [];
  return {
    warnings,
    options: { registry: new Registry(), defaultMetrics: false, logger: { warn: (m: string) => warnings.push(m) } },
  };
}

function usersRouter(): Router {
  const router = new Router();
  router.get('/users/:id', (ctx) => {
    ctx.body = 'user';
  });
  router.post('/users', (ctx) => {
    ctx.status = 201;
  });
  return router;
}

it('keeps serving and says how to call it when the factory itself is passed to app.use', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const app = quietApp();
  app.use(routemeter as unknown as Koa.Middleware);
  app.use(usersRouter().routes());
  const port = await start(app);
  expect((await send(port, '/users/1')).status).toBe(200);
  expect((await send(port, '/users/2')).status).toBe(200);
  expect(warn.mock.calls).toEqual([
    [
      'routemeter: `app.use(routemeter)` passes the factory itself, so nothing is recorded: call it, `app.use(routemeter())`',
    ],
  ]);
});

it('warns once, naming them, of the routes of routers added before the middleware', async () => {
  const { warnings, options } = told();
  const app = quietApp();
  const early = new Router({ prefix: '/api' });
  early.get('/items/:id', (ctx) => {
    ctx.body = 'item';
  });
  app.use(early.routes());
  app.use(usersRouter().routes());
  app.use(routemeter(options));
  const late = new Router();
  late.get('/late', (ctx) => {
    ctx.body = 'late';
  });
  app.use(late.routes());
  const port = await start(app);
  await send(port, '/api/items/1');
  await send(port, '/users/1');
  expect(warnings).toEqual([]); // neither reached the middleware
  await send(port, '/late');
  await send(port, '/late');
  expect(warnings).toEqual([
    'routemeter: 3 routes were added to the app before `app.use(routemeter())` and are not recorded (GET /api/items/:id, GET /users/:id, POST /users): call `app.use(routemeter())` before `app.use(router.routes())`',
  ]);
  expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({ 'GET /late 200': 2 });
  expect(warnings).toHaveLength(1);
});

it('warns when it is used on a router instead of the app', async () => {
  const { warnings, options } = told();
  const app = quietApp();
  const router = new Router();
  router.use(routemeter(options));
  router.get('/users/:id', (ctx) => {
    ctx.body = 'user';
  });
  app.use(router.routes());
  const port = await start(app);
  expect((await send(port, '/users/1')).status).toBe(200);
  expect((await send(port, '/users/2')).status).toBe(200);
  expect(warnings).toEqual([
    'routemeter: the middleware is not on the app (added with `router.use(routemeter())`, or called by another middleware or a mounted app), so it records only the requests that one passes on and cannot serve metricsPath beyond them: call `app.use(routemeter())` on the app, before your routers',
  ]);
});

it('says nothing when it comes first, or after middleware that is not a router', async () => {
  const { warnings, options } = told();
  const app = quietApp();
  app.use(async (ctx, next) => {
    ctx.set('x-request-id', '1');
    await next();
  });
  app.use(routemeter(options));
  app.use(usersRouter().routes());
  const port = await start(app);
  await send(port, '/users/1');
  await send(port, '/nope');
  expect(warnings).toEqual([]);
  expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({
    'GET #unmatched 404': 1,
    'GET /users/:id 200': 1,
  });
});

it('records a request once when routemeter is on the app and on a router too, and the second says so once', async () => {
  const registry = new Registry();
  const warnings: string[] = [];
  const app = quietApp();
  app.use(routemeter({ registry, defaultMetrics: false }));
  const router = new Router();
  router.use(routemeter({ registry, defaultMetrics: false, logger: { warn: (m) => warnings.push(m) } }));
  router.get('/users/:id', (ctx) => {
    ctx.body = 'user';
  });
  app.use(router.routes());
  const port = await start(app);
  await send(port, '/users/1');
  await send(port, '/users/2');
  expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({ 'GET /users/:id 200': 2 });
  expect(warnings.filter((w) => w.includes('already recorded by another routemeter'))).toEqual([
    'routemeter: a request reached this middleware already recorded by another routemeter (an earlier `app.use(routemeter())`, or RoutemeterModule in a Nest app): it is counted once, by the first, and the options of this one are not used: keep one routemeter per app',
  ]);
});
