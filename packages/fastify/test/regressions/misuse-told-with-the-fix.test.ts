import { routemeter } from '@routemeter/fastify';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';

// Regression: `app.register(routemeter())` failed with "Cannot read properties of undefined (reading
// 'hasRequestDecorator')", and routes added before the plugin (or before an un-awaited register) were
// silently not recorded.
const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

it('says how to register the plugin when it is called as a factory', () => {
  const call = routemeter as unknown as (options?: object) => unknown;
  expect(() => call()).toThrow(
    'routemeter: @routemeter/fastify is a plugin, not a factory: register it as `app.register(routemeter, options)`, not `app.register(routemeter())`',
  );
  expect(() => call({ prefix: 'x_' })).toThrow(/is a plugin, not a factory/);
});

it('warns once, when it registers, of the routes added before it, and how to fix it', async () => {
  const warnings: string[] = [];
  const app = Fastify();
  apps.push(app);
  app.get('/before', async () => 'x');
  app.register(async (child) => {
    child.get('/child/:id', async () => 'y');
    child.post('/child', async () => 'z');
  });
  // Not awaited: the next route is added before the plugin runs.
  app.register(routemeter, {
    registry: new Registry(),
    defaultMetrics: false,
    logger: { warn: (message) => warnings.push(message) },
  });
  app.get('/not-awaited', async () => 'x');
  await app.ready();
  expect(warnings).toEqual([
    'routemeter: 4 routes were added before routemeter was registered and are not recorded (GET /before, GET /not-awaited, POST /child, …): `await app.register(routemeter)` before adding routes and plugins',
  ]);
});

it('says nothing when it is registered first', async () => {
  const warnings: string[] = [];
  const app = Fastify();
  apps.push(app);
  await app.register(routemeter, {
    registry: new Registry(),
    defaultMetrics: false,
    logger: { warn: (message) => warnings.push(message) },
  });
  app.get('/after', async () => 'x');
  await app.ready();
  expect(warnings).toEqual([]);
});
