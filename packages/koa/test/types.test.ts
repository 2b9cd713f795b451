import type { RouterContext } from '@koa/router';
import { type KoaRoutemeterOptions, type RoutemeterMiddleware, routemeter } from '@routemeter/koa';
import Koa, { type Context } from 'koa';
import { Registry } from 'prom-client';
import { expectTypeOf, it } from 'vitest';

// Checked by `tsc --noEmit` (the package's tsconfig includes test/); vitest runs the few runtime lines.
it('types the middleware and its options', () => {
  expectTypeOf(routemeter).returns.toEqualTypeOf<RoutemeterMiddleware>();
  type Getter = NonNullable<KoaRoutemeterOptions['labels']>[string];
  expectTypeOf<Parameters<Getter>>().toEqualTypeOf<[Context, Context]>();

  // An app with its own state and context types takes it as it is.
  const app = new Koa<{ user?: string }, { tenant: string }>();
  const middleware = routemeter({
    registry: new Registry(),
    defaultMetrics: false,
    // Route parameters are on the router's context: a getter reads them through its type.
    labels: { org: (ctx) => (ctx as Context & Pick<RouterContext, 'params'>).params.org ?? '' },
    auth: (ctx) => ctx.get('x-internal') === 'yes',
  });
  app.use(middleware);
  // @ts-expect-error not a naming scheme
  const wrong: KoaRoutemeterOptions = { naming: 'statsd' };
  expectTypeOf(wrong).not.toBeAny();
  middleware.close();
});
