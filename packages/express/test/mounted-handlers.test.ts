// Responses ended by middleware mounted on a path, outside any route (express.static, a proxy, a sub-app
// without routes, an auth check): labelled with the mount pattern and a wildcard, bounded by the mount table
// and maxRoutes; their 404s, and whatever middleware at the root answers, stay `#unmatched`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { close, eventually, listen, sendAndAbort, sendPipelinedAndClose } from '../../../test-kit/http.js';
import { countsOf, parseExposition } from '../../../test-kit/metrics-text.js';
import { promtoolCheckMetrics } from '../../../test-kit/prometheus.js';
import { type Served, sendAll, serve } from './serve.js';

let files: string;
let upstream: Server;
let upstreamPort: number;
beforeAll(async () => {
  files = mkdtempSync(join(tmpdir(), 'routemeter-static-'));
  writeFileSync(join(files, 'a.txt'), 'a');
  writeFileSync(join(files, 'b.txt'), 'bb');
  writeFileSync(join(files, 'big.bin'), Buffer.alloc(64 * 1024 * 1024));
  // The proxied service: answers with the status its path asks for.
  upstream = createServer((req, res) => {
    res.statusCode = Number(/\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 200);
    res.end(`upstream ${req.url}`);
  });
  upstreamPort = await listen(upstream);
});
afterAll(async () => {
  rmSync(files, { recursive: true, force: true });
  await close(upstream);
});

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

describe('Express: responses of mounted middleware', () => {
  it('express.static at /static: its files are /static/*, its misses #unmatched', async () => {
    served = await serve((app) => {
      app.use('/static', express.static(files));
      app.get('/users/:id', (_req, res) => {
        res.send('user');
      });
    });
    const replies = await sendAll(served, ['/static/a.txt', '/static/b.txt', '/static/nope.txt', '/users/1', '/nope']);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 404, 200, 404]);
    expect(replies[1]?.body).toBe('bb');
    expect(countsOf(await served.scrape())).toEqual({
      'GET #unmatched 404': 2,
      'GET /static/* 200': 2,
      'GET /users/:id 200': 1,
    });
  });

  it('a proxy at /proxy (http-proxy-middleware, a local upstream): /proxy/* with the upstream status', async () => {
    served = await serve((app) => {
      app.use('/proxy', createProxyMiddleware({ target: `http://127.0.0.1:${upstreamPort}` }));
    });
    const replies = await sendAll(served, ['/proxy/users/1', '/proxy/orders/201', '/proxy/down/503', '/proxy/x/404']);
    expect(replies.map((r) => r.status)).toEqual([200, 201, 503, 404]);
    expect(replies[0]?.body).toBe('upstream /users/1');
    expect(countsOf(await served.scrape())).toEqual({
      'GET #unmatched 404': 1,
      'GET /proxy/* 200': 1,
      'GET /proxy/* 201': 1,
      'GET /proxy/* 503': 1,
    });
  });

  it('mounts inside routers, with parameters, and sub-apps without routes get their full mount pattern', async () => {
    served = await serve((app) => {
      const api = express.Router();
      api.use('/files', express.static(files));
      api.get('/users/:id', (_req, res) => {
        res.send('user');
      });
      app.use('/api/:version', api);
      const admin = express();
      admin.use((_req, res) => {
        res.status(202).send('admin');
      });
      app.use('/admin', admin);
      app.use('/private', (_req, res) => {
        res.status(401).send('who are you');
      });
    });
    await sendAll(served, [
      '/api/v1/files/a.txt',
      '/api/v2/files/b.txt',
      '/api/v1/users/3',
      '/admin/anything/at/all',
      '/private/keys',
    ]);
    expect(countsOf(await served.scrape())).toEqual({
      'GET /admin/* 202': 1,
      'GET /api/:version/files/* 200': 2,
      'GET /api/:version/users/:id 200': 1,
      'GET /private/* 401': 1,
    });
  });

  it('one label for a mount with a parameter, however many values clients send', async () => {
    served = await serve((app) => {
      app.use('/buckets/:bucket', express.static(files));
    });
    const paths = Array.from({ length: 1100 }, (_, i) => `/buckets/b${i}/a.txt`);
    for (let i = 0; i < paths.length; i += 50) await Promise.all(paths.slice(i, i + 50).map((p) => served?.send(p)));
    expect(countsOf(await served.scrape())).toEqual({ 'GET /buckets/:bucket/* 200': 1100 });
  });

  it('middleware at the root that answers has no mount to name: #unmatched', async () => {
    served = await serve((app) => {
      app.use((req, res, next) => {
        if (req.method === 'OPTIONS') res.status(204).end();
        else next();
      });
      app.get('/users/:id', (_req, res) => {
        res.send('user');
      });
    });
    await sendAll(served, ['/users/1'], 'OPTIONS');
    expect(countsOf(await served.scrape())).toEqual({ 'OPTIONS #unmatched 204': 1 });
  });

  it('a hostile client and hostile callbacks on a mount: downloads cut short and pipelined requests counted once', async () => {
    const warnings: string[] = [];
    served = await serve(
      (app) => {
        app.use('/static', express.static(files));
      },
      {
        labels: {
          tenant: () => {
            throw new Error('label getter broke');
          },
        },
        exemplars: () => ({ 'bad name': '\u0000'.repeat(200) }) as never,
        logger: { warn: (message) => warnings.push(message) },
      },
    );
    // The client leaves while the big file is being sent, and cuts a pipelined pair after the first.
    await sendAndAbort(served.port, '/static/big.bin', 30);
    await sendPipelinedAndClose(served.port, ['/static/big.bin', '/static/a.txt'], 30);
    expect((await served.send('/static/a.txt')).status).toBe(200);
    const body = await eventually(async () => {
      const reply = await served?.send('/metrics');
      const counts = countsOf(parseExposition(reply?.body ?? ''));
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(4);
      return reply?.body ?? '';
    });
    // Every request is /static/*, once; the status is the one being sent when the client left.
    expect(Object.keys(countsOf(parseExposition(body)))).toEqual(['GET /static/* 200']);
    expect(await promtoolCheckMetrics(body)).toBe('');
    expect(warnings.some((w) => w.includes('label getter broke'))).toBe(true);
  });

  it('mount labels count against maxRoutes', async () => {
    served = await serve(
      (app) => {
        app.use('/one', express.static(files));
        app.use('/two', express.static(files));
      },
      { maxRoutes: 1, logger: { warn() {} } },
    );
    await sendAll(served, ['/one/a.txt', '/two/a.txt', '/one/b.txt']);
    expect(countsOf(await served.scrape())).toEqual({ 'GET #overflow 200': 1, 'GET /one/* 200': 2 });
  });
});
