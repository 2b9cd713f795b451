import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import Router from '@koa/router';
import fc from 'fast-check';
import type Koa from 'koa';
import { afterEach, expect, it } from 'vitest';
import { eventually, send } from '../../../test-kit/http.js';
import { countsOf, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { type Served, sendAll, serve } from './serve.js';

const running: Served[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((served) => served.close()));
});

async function start(routes: (app: Koa) => void, options: Parameters<typeof serve>[1] = {}): Promise<Served> {
  const served = await serve(routes, options);
  running.push(served);
  return served;
}

/** `/items/:id` answering 200, behind an app middleware that acts on `?before=` and `?after=` (around `next`). */
function itemsBehind(middleware: Koa.Middleware): (app: Koa) => void {
  return (app) => {
    app.use(middleware);
    const router = new Router();
    router.get('/items/:id', (ctx) => {
      ctx.body = 'item';
    });
    app.use(router.routes());
  };
}

it('records the status of an error thrown before or after `await next()`, as Koa sent it', async () => {
  const app = await start(
    itemsBehind(async (ctx, next) => {
      if (ctx.query.before !== undefined) ctx.throw(Number(ctx.query.before));
      await next();
      // The body is set by now; Koa's ctx.onerror replaces it and the status.
      if (ctx.query.after !== undefined) ctx.throw(Number(ctx.query.after), 'late');
      if (ctx.query.crash !== undefined) throw new Error('not an HTTP error');
    }),
  );
  const replies = await sendAll(app, ['/items/1?before=403', '/items/1?after=409', '/items/1?crash', '/items/1']);
  expect(replies.map((reply) => [reply.status, reply.body])).toEqual([
    [403, 'Forbidden'],
    [409, 'late'],
    [500, 'Internal Server Error'],
    [200, 'item'],
  ]);
  // Thrown before the router ran: no route was chosen.
  expect(countsOf(await app.scrape())).toEqual({
    'GET #unmatched 403': 1,
    'GET /items/:id 200': 1,
    'GET /items/:id 409': 1,
    'GET /items/:id 500': 1,
  });
});

it('records the status set after `await next()`, and the one an error-handling middleware sends', async () => {
  const app = await start((koa) => {
    // The usual Koa error handler: it turns thrown errors into JSON answers of its own status.
    koa.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        ctx.status = (error as { status?: number }).status === 404 ? 410 : 502;
        ctx.body = { error: 'handled' };
      }
    });
    koa.use(async (ctx, next) => {
      await next();
      if (ctx.query.accepted !== undefined) ctx.status = 202;
    });
    const router = new Router();
    router.get('/items/:id', (ctx) => {
      if (ctx.params.id === 'gone') ctx.throw(404);
      if (ctx.params.id === 'bad') throw new Error('upstream down');
      ctx.body = 'item';
    });
    koa.use(router.routes());
  });
  const replies = await sendAll(app, ['/items/1?accepted', '/items/gone', '/items/bad', '/items/2']);
  expect(replies.map((reply) => reply.status)).toEqual([202, 410, 502, 200]);
  expect(countsOf(await app.scrape())).toEqual({
    'GET /items/:id 200': 1,
    'GET /items/:id 202': 1,
    'GET /items/:id 410': 1,
    'GET /items/:id 502': 1,
  });
});

it('records what was sent when the error handler is added before routemeter', async () => {
  const app = await start((koa) => {
    const router = new Router();
    router.get('/items/:id', (ctx) => {
      ctx.throw(422, 'invalid');
    });
    koa.use(router.routes());
  });
  // Prepended, as `app.use(errorHandler)` before `app.use(routemeter())` would be: the throw passes routemeter.
  app.app.middleware.unshift(async (ctx, next) => {
    try {
      await next();
    } catch {
      ctx.status = 400;
      ctx.body = 'rewritten';
    }
  });
  expect((await app.send('/items/1')).status).toBe(400);
  expect(countsOf(await app.scrape())).toEqual({ 'GET /items/:id 400': 1 });
});

it('counts a streamed body that fails midway once, with the status already sent', async () => {
  const app = await start(
    (koa) => {
      const router = new Router();
      router.get('/export', (ctx) => {
        let sent = 0;
        ctx.type = 'text/plain';
        ctx.body = new Readable({
          read() {
            sent += 1;
            if (sent === 1) this.push('row 1\n');
            else setTimeout(() => this.destroy(new Error('source lost')), 20);
          },
        });
      });
      koa.use(router.routes());
    },
    { requestsInFlight: true },
  );
  // Koa 3 destroys the response; Koa 2 leaves it open until the client gives up.
  await send(app.port, '/export', { timeoutMs: 300 }).catch(() => undefined);
  await eventually(async () => expect(countsOf(await app.scrape())).toEqual({ 'GET /export 200': 1 }));
  expect(sumOf(await app.scrape(), 'http_requests_in_flight')).toBe(0);
});

it('counts a client that leaves while its request body is being read once, as 499', async () => {
  const app = await start(
    (koa) => {
      const router = new Router();
      router.post('/upload', async (ctx) => {
        let bytes = 0;
        for await (const chunk of ctx.req) bytes += (chunk as Buffer).length;
        ctx.body = `${bytes} bytes`;
      });
      koa.use(router.routes());
    },
    { requestsInFlight: true },
  );
  await new Promise<void>((resolve) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: app.port,
      path: '/upload',
      method: 'POST',
      headers: { 'content-length': '1000' },
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write('x'.repeat(100));
    setTimeout(() => req.destroy(), 100);
  });
  await eventually(async () => expect(countsOf(await app.scrape())).toEqual({ 'POST /upload 499': 1 }));
  const metrics = await app.scrape();
  expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
  expect(
    sampleValue(metrics, 'http_request_duration_seconds_count', {
      method: 'POST',
      route: '/upload',
      status_code: '499',
    }),
  ).toBe(1);
  expect((await app.send('/upload', { method: 'POST', body: 'abc' })).body).toBe('3 bytes');
});

it('keeps serving, and counts each request once, when callbacks throw on requests Koa answered with an error', async () => {
  const warnings: string[] = [];
  const boom = () => {
    throw new Error('callback down');
  };
  const app = await start(
    itemsBehind(async (ctx, next) => {
      await next();
      if (ctx.query.after !== undefined) ctx.throw(503);
    }),
    {
      labels: { tier: boom },
      normalizeRoute: boom,
      exemplars: boom,
      exclude: boom,
      auth: boom,
      logger: {
        warn(message) {
          warnings.push(message);
          throw new Error('logger down');
        },
      },
    },
  );
  const replies = await sendAll(app, ['/items/1?after', '/nope', '/items/2', '/metrics']);
  expect(replies.map((reply) => reply.status)).toEqual([503, 404, 200, 401]);
  // A throwing `auth` refuses the scrape (401): the counts are read through a second app on the same registry.
  const reader = await serve(() => {}, { registry: app.registry, labels: { tier: () => 'unused' } });
  running.push(reader);
  expect(countsOf(await reader.scrape(), 'tier')).toEqual({
    'GET #unmatched 404 tier=': 1,
    'GET /items/:id 200 tier=': 1,
    'GET /items/:id 503 tier=': 1,
  });
  // Each failing callback is told once, whatever the logger itself does.
  expect(warnings.map((message) => /^routemeter: `([^`]+)`/.exec(message)?.[1]).sort()).toEqual([
    'auth',
    'exclude',
    'exemplars',
    'labels.tier',
    'normalizeRoute',
  ]);
});

it('never crashes and counts every request once, whatever status and throw a handler picks (property)', async () => {
  const app = await start(
    itemsBehind(async (ctx, next) => {
      const { before, after, status } = ctx.query as Record<string, string | undefined>;
      if (before !== undefined) ctx.throw(Number(before));
      await next();
      if (status !== undefined) ctx.status = Number(status);
      if (after !== undefined)
        throw after === 'plain' ? new Error('plain') : Object.assign(new Error('x'), { status: Number(after) });
    }),
    { requestsInFlight: true },
  );
  const status = fc.constantFrom(200, 201, 204, 301, 400, 404, 418, 451, 500, 503);
  const step = fc.record(
    { before: status, after: fc.oneof(status.map(String), fc.constant('plain')), status },
    { requiredKeys: [] },
  );
  // What the client saw, by the label it must be counted under: the route unless no route was chosen.
  const seen: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(step, fc.constantFrom('/items/1', '/nope'), async (query, path) => {
      const search = new URLSearchParams(
        Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
      );
      const reply = await app.send(`${path}?${search}`);
      const route = path === '/nope' || query.before !== undefined ? '#unmatched' : '/items/:id';
      const key = `GET ${route} ${reply.status}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }),
    { numRuns: 100 },
  );
  const metrics = await app.scrape();
  expect(countsOf(metrics)).toEqual(seen);
  expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
});
