import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Router from '@koa/router';
import type { AnyRegistry } from '@routemeter/core';
import { type KoaRoutemeterOptions, routemeter } from '@routemeter/koa';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { close, listen, type Reply, send } from '../../../test-kit/http.js';
import { type Exposition, parseExposition } from '../../../test-kit/metrics-text.js';

/**
 * The Koa major the running project loads (koa2 aliases `koa` to Koa 2), told by what the imported class has:
 * Koa 3 dropped `createAsyncCtxStorageMiddleware` (a `require` here would not go through the alias).
 */
export const koaMajor =
  typeof (Koa.prototype as unknown as Record<string, unknown>).createAsyncCtxStorageMiddleware === 'function' ? 2 : 3;

const requireRouter = createRequire(import.meta.url);

/** Every @koa/router major the package declares, each with the same API as far as these tests use it. */
export const routers: readonly (readonly [name: string, Router: typeof Router])[] = [
  ['@koa/router 15', Router],
  ...(['koa-router14', 'koa-router13', 'koa-router12'] as const).map(
    (name) => [`@koa/router ${name.slice(-2)}`, requireRouter(name) as typeof Router] as const,
  ),
];

export interface Served {
  readonly app: Koa;
  readonly port: number;
  readonly registry: AnyRegistry;
  send(path: string, options?: Parameters<typeof send>[2]): Promise<Reply>;
  /** GETs /metrics (or the path given) and parses it. */
  scrape(accept?: string, path?: string): Promise<Exposition>;
  close(): Promise<void>;
}

/** A Koa app that answers errors without printing them (Koa logs every error it handles unless listened for). */
export function quietApp(): Koa {
  const app = new Koa();
  app.on('error', () => {});
  return app;
}

/**
 * A real Koa app with routemeter first on a fresh registry (no process metrics unless asked), listening on
 * loopback. `routes` adds the app's routers after the middleware, as a user would.
 */
export async function serve(routes: (app: Koa) => void, options: KoaRoutemeterOptions = {}): Promise<Served> {
  const registry = options.registry ?? new Registry();
  const app = quietApp();
  const middleware = routemeter({ defaultMetrics: false, ...options, registry });
  app.use(middleware);
  routes(app);
  const server = createServer(app.callback());
  const port = await listen(server);
  return {
    app,
    port,
    registry,
    send: (path, requestOptions) => send(port, path, requestOptions),
    async scrape(accept, path = '/metrics') {
      const reply = await send(port, path, accept === undefined ? {} : { headers: { accept } });
      if (reply.status !== 200) throw new Error(`scrape answered ${reply.status}: ${reply.body}`);
      return parseExposition(reply.body);
    },
    async close() {
      middleware.close();
      await close(server);
    },
  };
}

/** Sends the requests one after another (order matters for some assertions). */
export async function sendAll(served: Served, paths: readonly string[], method = 'GET'): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (const path of paths) replies.push(await served.send(path, { method }));
  return replies;
}
