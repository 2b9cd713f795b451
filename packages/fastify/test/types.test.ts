import { type FastifyRoutemeterOptions, routemeter } from '@routemeter/fastify';
import Fastify, { type FastifyPluginCallback, type FastifyReply, type FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { expectTypeOf, it } from 'vitest';

// Checked by `tsc --noEmit` (the package's tsconfig includes test/); vitest runs the few runtime lines.
it('types the plugin, its options and the route config flag', async () => {
  expectTypeOf(routemeter).toEqualTypeOf<FastifyPluginCallback<FastifyRoutemeterOptions>>();
  type Getter = NonNullable<FastifyRoutemeterOptions['labels']>[string];
  expectTypeOf<Parameters<Getter>>().toEqualTypeOf<[FastifyRequest, FastifyReply]>();

  const app = Fastify();
  // A variable of the options type registers under exactOptionalPropertyTypes (Fastify's `prefix` too).
  const options: FastifyRoutemeterOptions = { registry: new Registry(), defaultMetrics: false, prefix: 'shop_' };
  await app.register(routemeter, options);
  // @ts-expect-error not a naming scheme
  const wrong: FastifyRoutemeterOptions = { naming: 'statsd' };
  expectTypeOf(wrong).not.toBeAny();
  app.get('/health', { config: { metrics: false } }, async () => 'ok');
  // @ts-expect-error metrics is a boolean
  app.get('/ready', { config: { metrics: 'no' } }, async () => 'ok');
  await app.close().catch(() => {});
});
