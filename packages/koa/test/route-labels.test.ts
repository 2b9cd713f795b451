import { afterEach, describe, expect, it } from 'vitest';
import { countsOf } from '../../../test-kit/metrics-text.js';
import { routers, type Served, sendAll, serve } from './serve.js';

const running: Served[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((served) => served.close()));
});

// Every @koa/router major the peer range declares builds the same app; each must give the same labels.
describe.each(routers)('route labels with %s', (_name, Router) => {
  async function start(routes: Parameters<typeof serve>[0]): Promise<Served> {
    const served = await serve(routes);
    running.push(served);
    return served;
  }

  it('joins prefixes and nested routers into the template', async () => {
    const app = await start((koa) => {
      const issues = new Router({ prefix: '/issues' });
      issues.get('/:issue', (ctx) => {
        ctx.body = 'issue';
      });
      const comments = new Router();
      comments.get('/comments/:comment', (ctx) => {
        ctx.body = 'comment';
      });
      issues.use('/:issue', comments.routes());
      const repos = new Router();
      repos.get('/', (ctx) => {
        ctx.body = 'repos';
      });
      repos.get('/:repo', (ctx) => {
        ctx.body = 'repo';
      });
      repos.use('/:repo', issues.routes());
      const api = new Router({ prefix: '/api' });
      api.use('/orgs/:org/repos', repos.routes());
      const v2 = new Router();
      v2.get('/items/:id', (ctx) => {
        ctx.body = 'item';
      });
      v2.prefix('/v2/:tenant');
      koa.use(api.routes());
      koa.use(v2.routes());
    });
    const replies = await sendAll(app, [
      '/api/orgs/acme/repos',
      '/api/orgs/acme/repos/',
      '/api/orgs/acme/repos/web',
      '/api/orgs/acme/repos/web/issues/7',
      '/api/orgs/acme/repos/web/issues/7/comments/9',
      '/v2/acme/items/3',
      '/orgs/acme/repos/web',
    ]);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200, 200, 404]);
    expect(countsOf(await app.scrape())).toEqual({
      'GET #unmatched 404': 1,
      'GET /api/orgs/:org/repos 200': 2,
      'GET /api/orgs/:org/repos/:repo 200': 1,
      'GET /api/orgs/:org/repos/:repo/issues/:issue 200': 1,
      'GET /api/orgs/:org/repos/:repo/issues/:issue/comments/:comment 200': 1,
      'GET /v2/:tenant/items/:id 200': 1,
    });
  });

  it('labels by the route the router chose, whatever router middleware ran before or after it', async () => {
    const app = await start((koa) => {
      const admin = new Router({ prefix: '/admin' });
      // Answers before the route: `ctx._matchedRoute` is this middleware's own pattern then.
      admin.use(async (ctx, next) => {
        if (ctx.get('authorization') === 'yes') await next();
        else ctx.status = 401;
      });
      admin.get('/users/:id', (ctx) => {
        ctx.body = 'admin';
      });
      const router = new Router();
      router.get('/pass/:id', async (ctx, next) => {
        ctx.body = 'passed on';
        await next();
      });
      // Runs after the route: `ctx._matchedRoute` is this middleware's pattern then.
      router.use(async (_ctx, next) => {
        await next();
      });
      router.get(/^\/files\/.*\.txt$/, (ctx) => {
        ctx.body = 'file';
      });
      koa.use(admin.routes());
      koa.use(router.routes());
    });
    const replies = await sendAll(app, ['/admin/users/1', '/pass/1', '/files/a.txt', '/files/b.txt']);
    await app.send('/admin/users/2', { headers: { authorization: 'yes' } });
    expect(replies.map((reply) => reply.status)).toEqual([401, 200, 200, 200]);
    expect(countsOf(await app.scrape())).toEqual({
      'GET /^\\/files\\/.*\\.txt$/ 200': 2,
      'GET /admin/users/:id 200': 1,
      'GET /admin/users/:id 401': 1,
      'GET /pass/:id 200': 1,
    });
  });

  it('gives a path the router knows for another method, and its 405 and 501, the unmatched label', async () => {
    const app = await start((koa) => {
      const router = new Router();
      router.get('/users/:id', (ctx) => {
        ctx.body = 'user';
      });
      koa.use(router.routes());
      koa.use(router.allowedMethods());
    });
    await app.send('/users/1', { method: 'HEAD' });
    const replies = await sendAll(app, ['/users/1', '/users/2'], 'DELETE');
    await app.send('/users/1', { method: 'PROPFIND' });
    expect(replies.map((reply) => reply.status)).toEqual([405, 405]);
    expect(countsOf(await app.scrape())).toEqual({
      '_OTHER #unmatched 501': 1,
      'DELETE #unmatched 405': 2,
      'HEAD /users/:id 200': 1,
    });
  });

  it('labels the route of the router that answered when two routers match the path', async () => {
    const app = await start((koa) => {
      const first = new Router();
      first.get('/items/:id', async (_ctx, next) => {
        await next(); // not this one's: passes the request on
      });
      const second = new Router();
      second.get('/items/:itemId', (ctx) => {
        ctx.body = 'item';
      });
      koa.use(first.routes());
      koa.use(second.routes());
    });
    await app.send('/items/1');
    expect(countsOf(await app.scrape())).toEqual({ 'GET /items/:itemId 200': 1 });
  });
});
