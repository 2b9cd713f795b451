import { routemeter } from '@routemeter/fastify';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../../../test-kit/http.js';
import { countsOf, parseExposition } from '../../../../test-kit/metrics-text.js';

// Regression: registering routemeter twice with defaults, or on an app that already has GET /metrics,
// threw Fastify's FST_ERR_DUPLICATED_ROUTE out of the plugin (not naming routemeter) and `await
// app.register()` only failed 10 s later with AVV_ERR_PLUGIN_EXEC_TIMEOUT. Registered twice with
// `metricsPath: false`, matched routes went to the second registry and 404s to the first.
const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => {})));
});

function newApp() {
  const app = Fastify();
  apps.push(app);
  return app;
}

async function rejection(promise: PromiseLike<unknown>): Promise<Error | undefined> {
  return Promise.resolve(promise).then(
    () => undefined,
    (error: Error) => error,
  );
}

describe('a second registration, or an app that already serves the metrics path', () => {
  it('rejects a second registration with defaults promptly, naming routemeter and metricsPath', async () => {
    const app = newApp();
    await app.register(routemeter, { registry: new Registry(), defaultMetrics: false });
    const started = Date.now();
    const error = await rejection(app.register(routemeter, { registry: new Registry(), defaultMetrics: false }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error?.message).toMatch(
      /^routemeter: this app already has a GET \/metrics route \(routemeter is registered twice\)/,
    );
    expect(error?.message).toContain('`metricsPath`');
  });

  it('rejects promptly when the app has its own GET /metrics, naming metricsPath', async () => {
    const app = newApp();
    app.get('/metrics', async () => 'mine');
    const error = await rejection(app.register(routemeter, { registry: new Registry(), defaultMetrics: false }));
    expect(error?.message).toMatch(
      /^routemeter: this app already has a GET \/metrics route: register routemeter once, or set `metricsPath`/,
    );
  });

  it('records every request with the first registration and nothing with the second, warning once', async () => {
    const first = new Registry();
    const second = new Registry();
    const warnings: string[] = [];
    const app = newApp();
    await app.register(routemeter, { registry: first, defaultMetrics: false });
    await app.register(routemeter, {
      registry: second,
      defaultMetrics: false,
      metricsPath: false,
      logger: { warn: (message) => warnings.push(message) },
    });
    app.get('/users/:id', async () => 'user');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    await send(port, '/users/1');
    await send(port, '/nope');
    expect(countsOf(parseExposition((await send(port, '/metrics')).body))).toEqual({
      'GET #unmatched 404': 1,
      'GET /users/:id 200': 1,
    });
    expect(second.getMetricsAsArray()).toHaveLength(2);
    expect(countsOf(parseExposition(await second.metrics()))).toEqual({});
    expect(warnings).toEqual([
      expect.stringMatching(/registered twice on one app: the first registration records every request/),
    ]);
  });
});
