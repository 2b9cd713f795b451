import { createServer } from 'node:http';
import type { AnyRegistry } from '@routemeter/core';
import { type ExpressRoutemeterOptions, routemeter } from '@routemeter/express';
import express, { type Express } from 'express';
import { Registry } from 'prom-client';
import { close, listen, type Reply, send } from '../../../test-kit/http.js';
import { type Exposition, parseExposition } from '../../../test-kit/metrics-text.js';

export interface Served {
  readonly app: Express;
  readonly port: number;
  readonly registry: AnyRegistry;
  send(path: string, options?: Parameters<typeof send>[2]): Promise<Reply>;
  /** GETs /metrics (or the path given) and parses it. */
  scrape(accept?: string, path?: string): Promise<Exposition>;
  close(): Promise<void>;
}

/**
 * A real Express app with routemeter on a fresh registry (no process metrics unless asked),
 * listening on loopback. `routes` adds the app's routes after the middleware, as a user would.
 */
export async function serve(routes: (app: Express) => void, options: ExpressRoutemeterOptions = {}): Promise<Served> {
  const registry = options.registry ?? new Registry();
  const app = express();
  app.use(routemeter({ defaultMetrics: false, ...options, registry }));
  routes(app);
  const server = createServer(app);
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
    close: () => close(server),
  };
}

/** Sends the requests one after another (order matters for some assertions). */
export async function sendAll(served: Served, paths: readonly string[], method = 'GET'): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (const path of paths) replies.push(await served.send(path, { method }));
  return replies;
}
