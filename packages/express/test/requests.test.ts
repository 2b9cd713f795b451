import { routemeter } from '@routemeter/express';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, sendAndAbort, slowChunks } from '../../../test-kit/http.js';
import { labelValues, sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { type Served, sendAll, serve } from './serve.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const labels = (route: string, status: string, method = 'GET') => ({ method, route, status_code: status });

function userRoutes(served: Parameters<Parameters<typeof serve>[0]>[0]) {
  served.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
}

describe('requests that match no route', () => {
  it('counts 404s, unknown methods and HEAD under the one unmatched label', async () => {
    served = await serve(userRoutes);
    await sendAll(served, ['/nope', '/users', '/users/1/extra']);
    await served.send('/nope', { method: 'HEAD' });
    await served.send('/users/1', { method: 'PROPFIND' });
    await served.send('/users/1', { method: 'DELETE' });
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '404'))).toBe(3);
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '404', 'HEAD'))).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '404', '_OTHER'))).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '404', 'DELETE'))).toBe(1);
    expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['#unmatched']);
  });
});

describe('routemeter used twice on one request', () => {
  it('records the request once, through the first', async () => {
    const registry = new Registry();
    served = await serve(
      (app) => {
        const api = express.Router();
        api.use(routemeter({ registry, defaultMetrics: false }));
        api.get('/users/:id', (_req, res) => {
          res.send('user');
        });
        app.use('/api', api);
      },
      { registry },
    );
    await served.send('/api/users/1');
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', labels('/api/users/:id', '200'))).toBe(1);
    expect(sumOf(metrics, 'http_requests_total')).toBe(1);
  });
});

describe('failures are counted once, with the status sent', () => {
  it('counts a thrown error and a rejected promise once each as 500', async () => {
    served = await serve((app) => {
      app.get('/sync', () => {
        throw new Error('boom');
      });
      app.get('/async', (_req, _res, next) => {
        Promise.reject(new Error('later')).catch(next);
      });
    });
    const replies = await sendAll(served, ['/sync', '/async', '/sync']);
    expect(replies.map((r) => r.status)).toEqual([500, 500, 500]);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', labels('/sync', '500'))).toBe(2);
    expect(sampleValue(metrics, 'http_requests_total', labels('/async', '500'))).toBe(1);
    expect(sumOf(metrics, 'http_requests_total')).toBe(3);
  });

  it('counts a request whose client leaves mid-request once, as 499, and keeps serving', async () => {
    let release: () => void = () => {};
    served = await serve((app) => {
      app.get('/slow', (_req, res) => {
        release = () => res.send('late');
      });
      userRoutes(app);
    });
    const current = served;
    await sendAndAbort(current.port, '/slow', 100);
    await eventually(async () => {
      const metrics = await current.scrape();
      expect(sampleValue(metrics, 'http_requests_total', labels('/slow', '499'))).toBe(1);
    });
    release(); // writing to the closed response must not count it again
    const reply = await current.send('/users/5');
    expect(reply.status).toBe(200);
    const metrics = await current.scrape();
    expect(sumOf(metrics, 'http_requests_total', { route: '/slow' })).toBe(1);
    expect(sampleValue(metrics, 'http_requests_total', labels('/users/:id', '200'))).toBe(1);
  });

  it('counts malformed percent-encoding without crashing', async () => {
    served = await serve(userRoutes);
    const replies = await sendAll(served, ['/users/%E0%A4%A', '/%E0%A4%A', '/users/%']);
    expect(replies.map((r) => r.status)).toEqual([400, 404, 400]);
    const metrics = await served.scrape();
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '400'))).toBe(2);
    expect(sampleValue(metrics, 'http_requests_total', labels('#unmatched', '404'))).toBe(1);
  });
});

describe('timing', () => {
  it('times a streamed response to its last byte', async () => {
    served = await serve((app) => {
      app.get('/stream', (_req, res) => {
        slowChunks(4, 60).pipe(res);
      });
    });
    const reply = await served.send('/stream');
    expect(reply.body).toBe('chunk 1\nchunk 2\nchunk 3\nchunk 4\n');
    const metrics = await served.scrape();
    const seconds = sampleValue(metrics, 'http_request_duration_seconds_sum', labels('/stream', '200'));
    expect(seconds).toBeGreaterThanOrEqual(0.23);
    expect(
      sampleValue(metrics, 'http_request_duration_seconds_bucket', { ...labels('/stream', '200'), le: '0.1' }),
    ).toBe(0);
    expect(
      sampleValue(metrics, 'http_request_duration_seconds_bucket', { ...labels('/stream', '200'), le: '0.5' }),
    ).toBe(1);
  });
});
