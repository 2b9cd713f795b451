import type { AbstractHttpAdapter } from '@nestjs/core';
import type { Logger } from '@routemeter/core';
import type { ExpressRoutemeterOptions } from '@routemeter/express';
import type { FastifyRoutemeterOptions } from '@routemeter/fastify';
import type { NestRoutemeterOptions } from './module.js';

type Handler = (req: { route?: unknown }, res: unknown, next: unknown) => unknown;

/**
 * Installs the adapter of the app's platform on the server Nest has created and not yet routed, and returns
 * what releases it. Each adapter is imported only on its platform, so a Fastify app needs no Express.
 */
export async function install(
  adapter: AbstractHttpAdapter | undefined,
  options: NestRoutemeterOptions,
  logger: Logger,
): Promise<() => void> {
  // An application context (no HTTP server) has no adapter, or one of no type.
  const platform: string | undefined = adapter?.getType?.();
  if (platform === 'express') {
    const { routemeter } = await import('@routemeter/express');
    const middleware = routemeter(options as ExpressRoutemeterOptions);
    adapter?.getInstance<{ use(handler: unknown): void }>().use(middleware);
    unmatchNotFoundRoutes(adapter as AbstractHttpAdapter);
    return middleware.close;
  }
  if (platform === 'fastify') {
    const { routemeter } = await import('@routemeter/fastify');
    // Awaited: the plugin's onRoute hook must be in place before Nest adds the controllers' routes, and an
    // invalid option then fails NestFactory.create, as on Express.
    await adapter
      ?.getInstance<{ register(plugin: unknown, options: unknown): PromiseLike<unknown> }>()
      .register(routemeter, options as FastifyRoutemeterOptions);
    return noop;
  }
  logger.warn(
    `routemeter: RoutemeterModule records HTTP requests of Express and Fastify apps, and this app is ${platform === undefined ? 'not an HTTP app (NestFactory.createApplicationContext or createMicroservice)' : `on '${platform}'`}: nothing is recorded; remove RoutemeterModule, or create the app with NestFactory.create on @nestjs/platform-express or @nestjs/platform-fastify`,
  );
  return noop;
}

/**
 * Nest 12 answers unknown paths under the global prefix with a catch-all route (`router.all('*path')`), and
 * paths excluded from the prefix with routes of their own: to routemeter they are requests no route matched.
 * Express gives the request the route it dispatched; the wrapper takes it back before Nest answers 404.
 */
function unmatchNotFoundRoutes(adapter: AbstractHttpAdapter): void {
  const setNotFoundHandler = adapter.setNotFoundHandler;
  adapter.setNotFoundHandler = function setUnmatchedNotFoundHandler(
    this: AbstractHttpAdapter,
    handler: Handler,
    ...rest: unknown[]
  ) {
    return setNotFoundHandler.call(
      this,
      function routemeterUnmatched(req: { route?: unknown }, res: unknown, next: unknown) {
        req.route = undefined;
        return handler(req, res, next);
      },
      ...(rest as [string]),
    );
  } as AbstractHttpAdapter['setNotFoundHandler'];
}

function noop(): void {}
