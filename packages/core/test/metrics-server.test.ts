import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { send } from '../../../test-kit/http.js';
import { parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { RoutemeterOptionError, serveMetrics } from '../src/index.js';

describe('serveMetrics: the registry on its own port', () => {
  it('serves GET and HEAD on its path, 405 for other methods there, 404 elsewhere, and closes cleanly', async () => {
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [registry] }).inc(4);
    const server = await serveMetrics({ port: 0, host: '127.0.0.1', registry, path: '/internal/metrics' });
    expect(sampleValue(parseExposition((await send(server.port, '/internal/metrics?x=1')).body), 'jobs_total')).toBe(4);
    const head = await send(server.port, '/internal/metrics', { method: 'HEAD' });
    expect([head.status, head.body, head.headers['cache-control']]).toEqual([200, '', 'no-store']);
    const post = await send(server.port, '/internal/metrics', { method: 'POST' });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await send(server.port, '/metrics')).status).toBe(404);
    await server.close();
    await expect(send(server.port, '/internal/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('asks for credentials when auth is set', async () => {
    const server = await serveMetrics({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      auth: { bearer: 'let-me-in' },
    });
    const denied = await send(server.port, '/metrics');
    expect([denied.status, denied.headers['www-authenticate']]).toEqual([401, 'Bearer realm="metrics"']);
    expect((await send(server.port, '/metrics', { headers: { authorization: 'Bearer let-me-in' } })).status).toBe(200);
    await server.close();
  });

  it('validates its options like the adapters do', async () => {
    await expect(serveMetrics({ port: 70000 })).rejects.toThrow(RoutemeterOptionError);
    await expect(serveMetrics({ port: 70000 })).rejects.toThrow(
      'routemeter: option `port` must be an integer from 0 to 65535, got 70000',
    );
    await expect(serveMetrics({ path: 'metrics' })).rejects.toThrow(
      /option `metricsPath` must be a path starting with '\/'/,
    );
    await expect(serveMetrics({ auth: { bearer: '' } })).rejects.toThrow(/option `auth`/);
  });
});
