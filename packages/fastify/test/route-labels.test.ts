import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type Exposition, labelValues, sampleValue } from '../../../test-kit/metrics-text.js';
import { build, injectAll, injectScrape, routerOptions } from './serve.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const count = (route: string, status = '200', method = 'GET') => ({ method, route, status_code: status });

/** `METHOD route status` → count of every http_requests_total sample. */
function counts(metrics: Exposition): Record<string, number> {
  const result: Record<string, number> = {};
  for (const s of metrics.samples) {
    if (s.name === 'http_requests_total')
      result[`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`] = s.value;
  }
  return result;
}

describe('route labels are the template Fastify matched (app.inject)', () => {
  it('labels a parameterised route by its template, with exact counts', async () => {
    ({ app } = await build((a) => {
      a.get('/users/:id', async () => 'user');
    }));
    expect(await injectAll(app, ['/users/1', '/users/2', '/users/abc?x=1'])).toEqual([200, 200, 200]);
    const metrics = await injectScrape(app);
    expect(sampleValue(metrics, 'http_requests_total', count('/users/:id'))).toBe(3);
    expect(sampleValue(metrics, 'http_request_duration_seconds_count', count('/users/:id'))).toBe(3);
    expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['/users/:id']);
  });

  it('joins prefixes of encapsulated plugins nested three deep', async () => {
    ({ app } = await build(async (a) => {
      await a.register(
        async (orgs) => {
          orgs.get('/', async () => 'org');
          await orgs.register(
            async (repos) => {
              repos.get('/:repo', async () => 'repo');
              await repos.register(
                async (issues) => {
                  issues.get('/:issue', async () => 'issue');
                },
                { prefix: '/:repo/issues' },
              );
            },
            { prefix: '/repos' },
          );
        },
        { prefix: '/orgs/:org' },
      );
    }));
    await injectAll(app, ['/orgs/acme', '/orgs/acme/', '/orgs/acme/repos/web', '/orgs/b/repos/api/issues/7']);
    // HEAD twins of a prefix's `/` route, with and without the slash, are separate routes for Fastify.
    expect(
      await injectAll(app, [
        ['HEAD', '/orgs/acme'],
        ['HEAD', '/orgs/acme/'],
      ]),
    ).toEqual([200, 200]);
    expect(counts(await injectScrape(app))).toEqual({
      'HEAD /orgs/:org 200': 2,
      'GET /orgs/:org 200': 2,
      'GET /orgs/:org/repos/:repo 200': 1,
      'GET /orgs/:org/repos/:repo/issues/:issue 200': 1,
    });
  });

  it('keeps a prefix that ends in / as Fastify registers it', async () => {
    ({ app } = await build(async (a) => {
      await a.register(
        async (p) => {
          p.get('/', async () => 'root');
          p.get('/items', async () => 'items');
        },
        { prefix: '/shop/' },
      );
    }));
    expect(await injectAll(app, ['/shop/', '/shop/items', '/shop'])).toEqual([200, 200, 404]);
    expect(counts(await injectScrape(app))).toEqual({
      'GET /shop/ 200': 1,
      'GET /shop/items 200': 1,
      'GET #unmatched 404': 1,
    });
  });

  it('labels trailing-slash variants with the template under ignoreTrailingSlash', async () => {
    ({ app } = await build(
      async (a) => {
        a.get('/users/:id', async () => 'user');
        await a.register(
          async (p) => {
            p.get('/', async () => 'list');
          },
          { prefix: '/books' },
        );
      },
      {},
      routerOptions({ ignoreTrailingSlash: true }),
    ));
    expect(await injectAll(app, ['/users/1', '/users/1/', '/books', '/books/'])).toEqual([200, 200, 200, 200]);
    expect(counts(await injectScrape(app))).toEqual({ 'GET /users/:id 200': 2, 'GET /books 200': 2 });
  });

  it('labels each method of a multi-method route, and explicit HEAD routes', async () => {
    ({ app } = await build((a) => {
      a.route({ method: ['GET', 'POST', 'PUT'], url: '/things/:id', handler: async () => 'thing' });
      a.head('/ping', async (_request, reply) => reply.code(204).send());
    }));
    await injectAll(app, ['/things/1', ['POST', '/things/2'], ['PUT', '/things/3'], ['HEAD', '/things/4']]);
    await injectAll(app, [['HEAD', '/ping']]);
    expect(counts(await injectScrape(app))).toEqual({
      'GET /things/:id 200': 1,
      'HEAD /things/:id 200': 1,
      'POST /things/:id 200': 1,
      'PUT /things/:id 200': 1,
      'HEAD /ping 204': 1,
    });
  });

  it('labels wildcard and regexp-parameter routes by their template', async () => {
    ({ app } = await build((a) => {
      a.get('/files/*', async () => 'file');
      a.get('/v/:version(^\\d+)/status', async () => 'status');
    }));
    await injectAll(app, ['/files/a/b.txt', '/files/c', '/v/2/status', '/v/x/status']);
    expect(counts(await injectScrape(app))).toEqual({
      'GET /files/* 200': 2,
      'GET /v/:version(^\\d+)/status 200': 1,
      'GET #unmatched 404': 1,
    });
  });

  it('counts requests answered by custom not-found handlers, prefixed ones too, as unmatched', async () => {
    ({ app } = await build(async (a) => {
      a.setNotFoundHandler((_request, reply) => reply.code(404).send('root 404'));
      await a.register(
        async (api) => {
          api.get('/ok', async () => 'ok');
          api.setNotFoundHandler((_request, reply) => reply.code(410).send('api 410'));
        },
        { prefix: '/api' },
      );
    }));
    expect(await injectAll(app, ['/api/ok', '/api/nope', '/nope', ['PATCH', '/api/ok']])).toEqual([200, 410, 404, 410]);
    expect(counts(await injectScrape(app))).toEqual({
      'GET /api/ok 200': 1,
      'GET #unmatched 410': 1,
      'GET #unmatched 404': 1,
      'PATCH #unmatched 410': 1,
    });
  });

  it('leaves out routes with config: { metrics: false }, and their HEAD twins', async () => {
    ({ app } = await build((a) => {
      a.get('/health', { config: { metrics: false } }, async () => 'ok');
      a.get('/users/:id', async () => 'user');
    }));
    await injectAll(app, ['/health', ['HEAD', '/health'], '/users/1']);
    expect(counts(await injectScrape(app))).toEqual({ 'GET /users/:id 200': 1 });
  });

  it('leaves out paths matched by an exclude function', async () => {
    ({ app } = await build(
      (a) => {
        a.get('/users/:id', async () => 'user');
      },
      { exclude: (request) => request.headers['x-synthetic'] === '1' },
    ));
    await app.inject({ url: '/users/1', headers: { 'x-synthetic': '1' } });
    await app.inject({ url: '/users/2' });
    expect(counts(await injectScrape(app))).toEqual({ 'GET /users/:id 200': 1 });
  });

  it('records under the overflow label past maxRoutes', async () => {
    const warnings: string[] = [];
    ({ app } = await build(
      (a) => {
        a.get('/a', async () => 'a');
        a.get('/b', async () => 'b');
        a.get('/c', async () => 'c');
      },
      { maxRoutes: 2, logger: { warn: (message) => warnings.push(message) } },
    ));
    await injectAll(app, ['/a', '/b', '/c', '/c']);
    expect(counts(await injectScrape(app))).toEqual({ 'GET /a 200': 1, 'GET /b 200': 1, 'GET #overflow 200': 2 });
    expect(warnings).toHaveLength(1);
  });

  it('applies a metric name prefix (the core option, not a route prefix)', async () => {
    ({ app } = await build(
      (a) => {
        a.get('/users/:id', async () => 'user');
      },
      { prefix: 'shop_' },
    ));
    await injectAll(app, ['/users/1']);
    const metrics = await injectScrape(app);
    expect(sampleValue(metrics, 'shop_http_requests_total', count('/users/:id'))).toBe(1);
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });
});
