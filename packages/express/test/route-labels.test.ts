import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { labelValues, sampleValue } from '../../../test-kit/metrics-text.js';
import { type Served, sendAll, serve } from './serve.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const count = (route: string, status = '200', method = 'GET') => ({ method, route, status_code: status });

describe('route labels are the template Express matched', () => {
  it('labels a parameterised route by its template, with exact counts', async () => {
    served = await serve((app) => {
      app.get('/users/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
    });
    await sendAll(served, ['/users/1', '/users/2', '/users/abc?x=1']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/users/:id'))).toBe(3);
    expect(sampleValue(metrics, 'http_request_duration_seconds_count', count('/users/:id'))).toBe(3);
    expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['/users/:id']);
  });

  it('joins mount paths across routers nested three deep', async () => {
    served = await serve((app) => {
      const repos = express.Router();
      const issues = express.Router({ mergeParams: true });
      const comments = express.Router();
      comments.get('/:comment', (_req, res) => {
        res.send('comment');
      });
      issues.use('/:issue/comments', comments);
      issues.get('/', (_req, res) => {
        res.send('issues');
      });
      repos.use('/:repo/issues', issues);
      repos.get('/:repo', (_req, res) => {
        res.send('repo');
      });
      app.use('/orgs/:org/repos', repos);
    });
    await sendAll(served, [
      '/orgs/acme/repos/web',
      '/orgs/acme/repos/web/issues',
      '/orgs/beta/repos/api/issues/7/comments/42',
      '/orgs/beta/repos/api/issues/8/comments/43',
    ]);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/orgs/:org/repos/:repo'))).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', count('/orgs/:org/repos/:repo/issues'))).toBe(1);
    expect(
      sampleValue(metrics, 'http_requests_total', count('/orgs/:org/repos/:repo/issues/:issue/comments/:comment')),
    ).toBe(2);
  });

  it('labels app.route() chains per method under one template', async () => {
    served = await serve((app) => {
      app
        .route('/books/:isbn')
        .get((_req, res) => {
          res.send('get');
        })
        .put((_req, res) => {
          res.status(204).end();
        });
    });
    await sendAll(served, ['/books/1', '/books/2']);
    await served.send('/books/1', { method: 'PUT' });
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/books/:isbn'))).toBe(2);
    expect(sampleValue(metrics, 'http_requests_total', count('/books/:isbn', '204', 'PUT'))).toBe(1);
  });

  it('labels a route with an array of paths by the paths joined with |', async () => {
    served = await serve((app) => {
      app.get(['/a/:x', '/b/:y'], (_req, res) => {
        res.send('ok');
      });
    });
    await sendAll(served, ['/a/1', '/b/2']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/a/:x|/b/:y'))).toBe(2);
  });

  it('labels a RegExp route by its source', async () => {
    served = await serve((app) => {
      app.get(/^\/files\/.*\.txt$/, (_req, res) => {
        res.send('file');
      });
    });
    await sendAll(served, ['/files/a.txt', '/files/deep/b.txt']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count(String(/^\/files\/.*\.txt$/)))).toBe(2);
  });

  it('labels a router mounted at two paths by the mount the request went through', async () => {
    served = await serve((app) => {
      const api = express.Router();
      api.get('/items/:id', (_req, res) => {
        res.send('item');
      });
      app.use('/v1', api);
      app.use('/v2/:tenant', api);
    });
    await sendAll(served, ['/v1/items/1', '/v2/acme/items/2', '/v2/beta/items/3']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/v1/items/:id'))).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', count('/v2/:tenant/items/:id'))).toBe(2);
  });

  it('labels routes of a mounted sub-app with the mount path', async () => {
    served = await serve((app) => {
      const admin = express();
      admin.get('/users/:id', (_req, res) => {
        res.send('admin user');
      });
      app.use('/admin', admin);
    });
    await sendAll(served, ['/admin/users/9']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/admin/users/:id'))).toBe(1);
  });

  it("labels a router's root route by its mount path", async () => {
    served = await serve((app) => {
      const users = express.Router();
      users.get('/', (_req, res) => {
        res.send('list');
      });
      app.use('/users', users);
      app.get('/', (_req, res) => {
        res.send('home');
      });
    });
    await sendAll(served, ['/users', '/users/', '/']);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/users'))).toBe(2);
    expect(sampleValue(metrics, 'http_requests_total', count('/'))).toBe(1);
  });

  it('labels HEAD requests answered by a GET route with that route and method HEAD', async () => {
    served = await serve((app) => {
      app.get('/users/:id', (_req, res) => {
        res.send('user');
      });
    });
    await served.send('/users/1', { method: 'HEAD' });
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', count('/users/:id', '200', 'HEAD'))).toBe(1);
  });
});
