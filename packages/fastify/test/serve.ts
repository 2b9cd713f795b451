import { type FastifyRoutemeterOptions, routemeter } from '@routemeter/fastify';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import type { BehaviourApp } from '../../../test-kit/behaviour.js';
import { type Reply, send, slowChunks } from '../../../test-kit/http.js';
import { type Exposition, parseExposition } from '../../../test-kit/metrics-text.js';

export interface Served {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly registry: Registry;
  send(path: string, options?: Parameters<typeof send>[2]): Promise<Reply>;
  /** GETs /metrics (or the path given) and parses it. */
  scrape(path?: string): Promise<Exposition>;
  close(): Promise<void>;
}

/**
 * Router options where the Fastify under test reads them: Fastify 5 takes them as `routerOptions` (at the
 * top level they are deprecated, FSTDEP022); Fastify 4 only at the top level.
 */
export function routerOptions(options: {
  maxParamLength?: number;
  ignoreTrailingSlash?: boolean;
}): FastifyServerOptions {
  return Fastify().version.startsWith('4.') ? options : ({ routerOptions: options } as FastifyServerOptions);
}

/**
 * A Fastify app with routemeter registered first on a fresh registry (no process metrics unless asked).
 * `routes` adds the app's routes after it, as a user would; `listen: false` leaves it for `app.inject`.
 */
export async function build(
  routes: (app: FastifyInstance) => void | Promise<void>,
  options: FastifyRoutemeterOptions = {},
  serverOptions: FastifyServerOptions = {},
): Promise<{ app: FastifyInstance; registry: Registry }> {
  const registry = (options.registry ?? new Registry()) as Registry;
  const app = Fastify(serverOptions);
  await app.register(routemeter, { defaultMetrics: false, ...options, registry });
  await routes(app);
  await app.ready();
  return { app, registry };
}

/** {@link build}, listening on loopback. */
export async function serve(
  routes: (app: FastifyInstance) => void | Promise<void>,
  options: FastifyRoutemeterOptions = {},
  serverOptions: FastifyServerOptions = {},
): Promise<Served> {
  const { app, registry } = await build(routes, options, serverOptions);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    app,
    port,
    registry,
    send: (path, requestOptions) => send(port, path, requestOptions),
    async scrape(path = '/metrics') {
      const reply = await send(port, path);
      if (reply.status !== 200) throw new Error(`scrape answered ${reply.status}: ${reply.body}`);
      return parseExposition(reply.body);
    },
    close: () => app.close(),
  };
}

/** Scrapes through `app.inject` and parses the exposition. */
export async function injectScrape(app: FastifyInstance, path = '/metrics'): Promise<Exposition> {
  const reply = await app.inject({ method: 'GET', url: path });
  if (reply.statusCode !== 200) throw new Error(`scrape answered ${reply.statusCode}: ${reply.body}`);
  return parseExposition(reply.body);
}

/** Sends the requests one after another through `app.inject`; resolves to the status codes. */
export async function injectAll(
  app: FastifyInstance,
  requests: readonly (string | [method: string, path: string])[],
): Promise<number[]> {
  const statuses: number[] = [];
  for (const request of requests) {
    const [method, url] = typeof request === 'string' ? ['GET', request] : request;
    statuses.push((await app.inject({ method: method as 'GET', url })).statusCode);
  }
  return statuses;
}

/** The standard route set of the shared behaviour table (test-kit/behaviour.ts), the Fastify way. */
export async function standardRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>('/users/:id', async (request) => `user ${request.params.id}`);
  app.post('/users', async (_request, reply) => reply.code(201).send('created'));
  await app.register(
    async (repos) => {
      repos.get('/', async () => 'repos');
      repos.get<{ Params: { repo: string } }>('/:repo', async (request) => `repo ${request.params.repo}`);
    },
    { prefix: '/orgs/:org/repos' },
  );
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/async-boom', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('later');
  });
  app.get('/teapot', async (_request, reply) => reply.code(418).send('teapot'));
  app.get('/health', async () => 'ok');
  app.get('/slow', (_request, reply) => {
    setTimeout(() => reply.send('slow'), 400);
  });
  app.get('/stream', (_request, reply) => {
    reply.type('text/plain').send(slowChunks(4, 60));
  });
}

/** Starts the standard app for the shared behaviour table. */
export async function startStandardApp(options: FastifyRoutemeterOptions): Promise<BehaviourApp> {
  const served = await serve(standardRoutes, options, { logger: false });
  return { port: served.port, close: () => served.close() };
}
