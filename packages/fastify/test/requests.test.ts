import { routemeter } from '@routemeter/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, sendAndAbort, sendPipelinedAndClose, slowChunks } from '../../../test-kit/http.js';
import { type Exposition, parseExposition, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { routerOptions, type Served, serve } from './serve.js';

let served: Served[] = [];
afterEach(async () => {
  await Promise.all(served.map((s) => s.close()));
  served = [];
});

async function start(...args: Parameters<typeof serve>): Promise<Served> {
  const s = await serve(...args);
  served.push(s);
  return s;
}

function counts(metrics: Exposition): Record<string, number> {
  const result: Record<string, number> = {};
  for (const s of metrics.samples) {
    if (s.name === 'http_requests_total')
      result[`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`] = s.value;
  }
  return result;
}

const users = (app: FastifyInstance) => {
  app.get('/users/:id', async () => 'user');
};

describe('malformed requests Fastify answers before any hook (real server)', () => {
  it('counts malformed percent-encoding (400) and over-long parameters (414) as unmatched', async () => {
    const s = await start(users, {}, routerOptions({ maxParamLength: 20 }));
    const statuses = [];
    for (const path of ['/%E0%A4%A', '/users/%E0%A4%A', '/users/%', `/users/${'x'.repeat(30)}`, '/users/1']) {
      statuses.push((await s.send(path)).status);
    }
    // Fastify 5 answers an over-long parameter with 414 itself; Fastify 4 falls through to its 404 handler.
    const tooLong = Fastify().version.startsWith('4.') ? 404 : 414;
    expect(statuses).toEqual([400, 400, 400, tooLong, 200]);
    expect(counts(await s.scrape())).toEqual({
      'GET #unmatched 400': 3,
      [`GET #unmatched ${tooLong}`]: 1,
      'GET /users/:id 200': 1,
    });
  });

  it('applies exclude to them too', async () => {
    const s = await start(users, { exclude: [/^\/private\//] });
    for (const path of ['/private/%E0%A4%A', '/%E0%A4%A']) await s.send(path);
    expect(counts(await s.scrape())).toEqual({ 'GET #unmatched 400': 1 });
  });

  it('does not count a route that answers 400 itself twice', async () => {
    const s = await start((app) => {
      app.get('/bad', (_request, reply) => {
        reply.code(400).send('bad');
      });
    });
    await s.send('/bad');
    expect(counts(await s.scrape())).toEqual({ 'GET /bad 400': 1 });
  });
});

describe('replies from hooks and error handlers are counted once, with their status', () => {
  it('counts replies sent from onRequest and preHandler hooks under the route', async () => {
    const s = await start((app) => {
      app.addHook('onRequest', (request, reply, done) => {
        if (request.headers['x-deny'] === '1') reply.code(401).send('denied');
        else done();
      });
      app.get(
        '/admin',
        {
          preHandler: (_request, reply, _done) => {
            reply.code(403).send('no');
          },
        },
        () => 'x',
      );
      users(app);
    });
    await s.send('/users/1', { headers: { 'x-deny': '1' } });
    await s.send('/users/1');
    await s.send('/admin');
    expect(counts(await s.scrape())).toEqual({
      'GET /admin 403': 1,
      'GET /users/:id 200': 1,
      'GET /users/:id 401': 1,
    });
  });

  it('counts a reply from an onRequest hook that runs before routemeter', async () => {
    const registry = new Registry();
    const app = Fastify();
    app.addHook('onRequest', (_request, reply, _done) => {
      reply.code(429).send('slow down');
    });
    await app.register(routemeter, { registry, defaultMetrics: false, requestsInFlight: true, metricsPath: false });
    users(app);
    await app.ready();
    const reply = await app.inject({ url: '/users/1' });
    expect(reply.statusCode).toBe(429);
    const metrics = parseExposition(await registry.metrics());
    expect(counts(metrics)).toEqual({ 'GET /users/:id 429': 1 });
    expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
    expect(
      sampleValue(metrics, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/users/:id',
        status_code: '429',
      }),
    ).toBe(1);
    await app.close();
  });

  it('counts errors thrown in hooks, and replies from a custom error handler, once', async () => {
    const s = await start((app) => {
      app.setErrorHandler((error: Error, _request, reply) => {
        reply.code(error.message === 'invalid' ? 422 : 503).send(error.message);
      });
      app.get('/validate', async () => {
        throw new Error('invalid');
      });
      app.get('/hook', { onRequest: async () => Promise.reject(new Error('hook failed')) }, async () => 'never');
      app.get('/send-error', (_request, reply) => {
        reply.send(new Error('sent'));
      });
    });
    for (const path of ['/validate', '/hook', '/send-error', '/validate']) await s.send(path);
    expect(counts(await s.scrape())).toEqual({
      'GET /hook 503': 1,
      'GET /send-error 503': 1,
      'GET /validate 422': 2,
    });
  });
});

describe('aborts and timeouts (real server)', () => {
  it('counts a request cut by the connection timeout once, as 499', async () => {
    const s = await start(
      (app) => {
        app.get('/stuck', (_request, reply) => {
          setTimeout(() => reply.send('too late'), 600);
        });
        users(app);
      },
      { requestsInFlight: true },
      { connectionTimeout: 150 },
    );
    const reply = await s.send('/stuck').catch((error: Error) => error);
    expect(reply).toBeInstanceOf(Error);
    await eventually(async () => {
      expect(counts(await s.scrape())).toEqual({ 'GET /stuck 499': 1 });
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const metrics = await s.scrape();
    expect(counts(metrics)).toEqual({ 'GET /stuck 499': 1 });
    expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
  });

  it('counts an aborted request that no route matched as unmatched 499', async () => {
    const s = await start((app) => {
      app.setNotFoundHandler((_request, reply) => {
        setTimeout(() => reply.code(404).send('gone'), 300);
      });
    });
    await sendAndAbort(s.port, '/nowhere', 80);
    await eventually(async () => {
      expect(counts(await s.scrape())).toEqual({ 'GET #unmatched 499': 1 });
    });
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(counts(await s.scrape())).toEqual({ 'GET #unmatched 499': 1 });
  });

  // routemeter notes a request's arrival and response in the server's `request` event, not in an onRequest
  // hook: an abort is still timed from the arrival and gets the status that was being sent.
  it('times an aborted request from its arrival, with the status sent when the client left mid-response', async () => {
    const s = await start((app) => {
      app.get('/slow', (_request, reply) => {
        setTimeout(() => reply.send('late'), 1000);
      });
      app.get('/stream', (_request, reply) => {
        reply.code(206).send(slowChunks(20, 50));
      });
    });
    await sendAndAbort(s.port, '/slow', 200);
    await sendAndAbort(s.port, '/stream', 150);
    const metrics = await eventually(async () => {
      const scraped = await s.scrape();
      expect(counts(scraped)).toEqual({ 'GET /slow 499': 1, 'GET /stream 206': 1 });
      return scraped;
    });
    const slowSeconds = sumOf(metrics, 'http_request_duration_seconds_sum', { route: '/slow' });
    expect(slowSeconds).toBeGreaterThanOrEqual(0.17);
    expect(slowSeconds).toBeLessThan(0.9);
    const streamSeconds = sumOf(metrics, 'http_request_duration_seconds_sum', { route: '/stream' });
    expect(streamSeconds).toBeGreaterThanOrEqual(0.12);
  });

  it("gives label getters and exemplars an aborted request's reply", async () => {
    const replies: string[] = [];
    const s = await start(
      (app) => {
        app.get('/slow', (_request, reply) => {
          reply.header('x-tenant', 'acme');
          setTimeout(() => reply.send('late'), 600);
        });
      },
      {
        labels: { tenant: (_request, reply) => String(reply.getHeader('x-tenant')) },
        exemplars: (_request, reply) => {
          replies.push(typeof reply?.getHeader);
          return undefined;
        },
      },
    );
    await sendAndAbort(s.port, '/slow', 100);
    const metrics = await eventually(async () => {
      const scraped = await s.scrape();
      expect(counts(scraped)).toEqual({ 'GET /slow 499': 1 });
      return scraped;
    });
    expect(sumOf(metrics, 'http_requests_total', { route: '/slow', tenant: 'acme' })).toBe(1);
    expect(replies).toEqual(['function']);
  });

  it('counts pipelined requests cut by the client once each, with label getters that throw and exemplars that return garbage', async () => {
    const s = await start(
      (app) => {
        app.get('/slow/:id', (_request, reply) => {
          setTimeout(() => reply.send('late'), 400);
        });
      },
      {
        labels: {
          tenant: () => {
            throw new Error('hostile getter');
          },
        },
        exemplars: () => ({ trace_id: 'x\u0000y', 'bad name': 1 }) as unknown as Record<string, string>,
        logger: { warn: () => {} },
      },
    );
    await sendPipelinedAndClose(s.port, ['/slow/1', '/slow/2', '/slow/3'], 100);
    await eventually(async () => {
      expect(counts(await s.scrape())).toEqual({ 'GET /slow/:id 499': 3 });
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const metrics = await s.scrape();
    expect(counts(metrics)).toEqual({ 'GET /slow/:id 499': 3 });
    expect(sumOf(metrics, 'http_requests_total', { tenant: '' })).toBe(3);
    expect((await s.send('/metrics', { headers: { accept: 'application/openmetrics-text' } })).status).toBe(200);
  });

  it('keeps the in-flight gauge exact across finished, failed, aborted and unmatched requests', async () => {
    let release: () => void = () => {};
    const s = await start(
      (app) => {
        app.get('/hold', (_request, reply) => {
          release = () => reply.send('released');
        });
        app.get('/boom', () => {
          throw new Error('boom');
        });
        users(app);
      },
      { requestsInFlight: true },
    );
    const held = s.send('/hold');
    await eventually(async () => {
      expect(sampleValue(await s.scrape(), 'http_requests_in_flight', { method: 'GET' })).toBe(1);
    });
    for (const path of ['/users/1', '/boom', '/nope']) await s.send(path);
    expect(sampleValue(await s.scrape(), 'http_requests_in_flight', { method: 'GET' })).toBe(1);
    release();
    await held;
    await eventually(async () => {
      expect(sampleValue(await s.scrape(), 'http_requests_in_flight', { method: 'GET' })).toBe(0);
    });
  });
});

describe('registries and instances', () => {
  it('shares metrics between two Fastify instances on one registry', async () => {
    const registry = new Registry();
    const first = await start(users, { registry });
    const second = await start(users, { registry });
    await first.send('/users/1');
    await second.send('/users/2');
    await second.send('/users/3');
    await second.send('/nope');
    expect(counts(await first.scrape())).toEqual({ 'GET /users/:id 200': 3, 'GET #unmatched 404': 1 });
  });

  it('records into the global registry by default', async () => {
    register.clear();
    const app = Fastify();
    await app.register(routemeter, { defaultMetrics: false });
    users(app);
    await app.inject({ url: '/users/1' });
    const metrics = parseExposition(await register.metrics());
    expect(counts(metrics)).toEqual({ 'GET /users/:id 200': 1 });
    await app.close();
    register.clear();
  });
});
