import type { Logger } from '@routemeter/core';
import type { RouterLayer } from './route-template.js';

/** An @koa/router dispatch middleware (`router.routes()`) carries its router. */
interface RouterDispatch {
  readonly router?: { readonly stack?: readonly RouterLayer[] };
}

/** What routemeter reads of a Koa app: the middleware `app.use` was given, in order. */
interface KoaApp {
  readonly middleware: readonly unknown[];
}

/**
 * Once, at the first request the middleware sees: routers added before it answer their routes without it,
 * and a middleware not on the app (`router.use(routemeter())`) sees only what its caller passes on.
 */
export function warnOfUnmeteredRoutes(app: KoaApp, middleware: unknown, logger: Logger): void {
  const position = app.middleware.indexOf(middleware);
  if (position === -1) {
    logger.warn(
      'routemeter: the middleware is not on the app (added with `router.use(routemeter())`, or called by another middleware or a mounted app), so it records only the requests that one passes on and cannot serve metricsPath beyond them: call `app.use(routemeter())` on the app, before your routers',
    );
    return;
  }
  const unmetered = app.middleware.slice(0, position).flatMap(routesOf);
  if (unmetered.length === 0) return;
  const examples = unmetered.slice(0, 3).join(', ');
  logger.warn(
    `routemeter: ${unmetered.length} route${unmetered.length === 1 ? ' was' : 's were'} added to the app before \`app.use(routemeter())\` and ${unmetered.length === 1 ? 'is' : 'are'} not recorded (${examples}${unmetered.length > 3 ? ', …' : ''}): call \`app.use(routemeter())\` before \`app.use(router.routes())\``,
  );
}

/** The routes of a router's dispatch middleware, as `GET /users/:id`; none for any other middleware. */
function routesOf(middleware: unknown): string[] {
  const stack = (middleware as RouterDispatch).router?.stack ?? [];
  return stack
    .filter((layer) => layer.methods.length > 0)
    .map((layer) => `${layer.methods.find((method) => method !== 'HEAD') ?? 'HEAD'} ${String(layer.path)}`);
}
