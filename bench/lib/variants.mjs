// The apps under test. Each variant is the same tiny app (GET /users/:id, small JSON body) with one
// metrics library configured to record what routemeter records: method, route and status code.
// Imported only by the server process (bench/server.mjs), so each variant's modules load alone.
import { createRequire } from 'node:module';

// OpenTelemetry instruments modules as they are required (require-in-the-middle): the OTel variants load
// node:http and express through require, after their instrumentations are registered.
const require = createRequire(import.meta.url);

/** name → { framework, label, peer? } in the order the tables list them. */
export const VARIANTS = {
  'express-bare': { framework: 'express', label: 'Express 5, bare', bare: true },
  'express-noop': { framework: 'express', label: 'Express + no-op app.use (floor)', floor: true },
  'express-routemeter': { framework: 'express', label: 'Express + @routemeter/express', ours: true },
  'express-prom-bundle': { framework: 'express', label: 'Express + express-prom-bundle 8' },
  'express-promster': { framework: 'express', label: 'Express + @promster/express 14' },
  'express-otel': {
    framework: 'express',
    label: 'Express + OpenTelemetry (http + express instrumentation)',
    otel: true,
  },
  'fastify-bare': { framework: 'fastify', label: 'Fastify 5, bare', bare: true },
  'fastify-hook': { framework: 'fastify', label: 'Fastify + empty onResponse hook (floor)', floor: true },
  'fastify-routemeter': { framework: 'fastify', label: 'Fastify + @routemeter/fastify', ours: true },
  'fastify-metrics': { framework: 'fastify', label: 'Fastify + fastify-metrics 13' },
  'fastify-promster': { framework: 'fastify', label: 'Fastify + @promster/fastify 15' },
  'fastify-otel': {
    framework: 'fastify',
    label: 'Fastify + OpenTelemetry (http instrumentation + @fastify/otel)',
    otel: true,
  },
};

/**
 * routemeter with `nativeHistograms`, scraped as Prometheus does with the feature on (protobuf): the scrape
 * bench only (issue 15's scrape target), beside the text scrape of the same app.
 */
for (const [framework, title] of [
  ['express', 'Express'],
  ['fastify', 'Fastify'],
]) {
  VARIANTS[`${framework}-routemeter-protobuf`] = {
    framework,
    label: `${title} + routemeter, nativeHistograms, protobuf scrape`,
    ours: true,
    protobuf: true,
    scrapeOnly: true,
    app: `${framework}-routemeter`,
    options: { nativeHistograms: true },
  };
}

/** The cost curve: routemeter beside its bare framework in apps of this many routes (overhead bench only). */
export const CURVE_ROUTES = [100, 1000];
for (const routes of CURVE_ROUTES) {
  for (const [framework, title] of [
    ['express', 'Express'],
    ['fastify', 'Fastify'],
  ]) {
    const bare = `${framework}-bare-${routes}`;
    VARIANTS[bare] = {
      framework,
      label: `${title} bare, ${routes} routes`,
      bare: true,
      routes,
      app: `${framework}-bare`,
    };
    VARIANTS[`${framework}-routemeter-${routes}`] = {
      framework,
      label: `${title} + routemeter, ${routes} routes`,
      ours: true,
      routes,
      app: `${framework}-routemeter`,
      baseline: bare,
    };
  }
}

/** The variant whose CPU time is subtracted from this one's: the bare app of the same framework and size. */
export const baselineOf = (name) => VARIANTS[name].baseline ?? `${VARIANTS[name].framework}-bare`;

/**
 * The overhead bench's 1,000 request paths: `/users/1…1000`, or for an app of `routes` routes (the cost
 * curve) the same spread over `/users/:id` and `/c1/:id … /c<routes-1>/:id` in turn.
 */
export function requestPaths(routes = 1) {
  return Array.from({ length: 1000 }, (_, i) => (i % routes === 0 ? `/users/${i + 1}` : `/c${i % routes}/${i + 1}`));
}

/** The scrape-cost app: 500 routes × GET/POST/PUT, status chosen by the client (`x-status`). */
export const SCRAPE_ROUTES = 500;
export const SCRAPE_METHODS = ['GET', 'POST', 'PUT'];
export const SCRAPE_STATUSES = [200, 201, 404, 500];

const user = (id) => ({ id, name: 'Ada Lovelace', email: 'ada@example.com', active: true });

/**
 * Builds a variant's app and returns a started node `http.Server` on 127.0.0.1, or with `listen: false`
 * `{ inject(path) }`, which GETs the path without a socket (light-my-request, Fastify's `inject`).
 * @param {string} name variant name
 * @param {{ scrapeRoutes?: boolean, listen?: boolean }} options scrapeRoutes adds the 500 routes of the scrape bench
 */
export async function startVariant(name, { scrapeRoutes = false, listen = true } = {}) {
  const variant = VARIANTS[name];
  if (variant === undefined) throw new Error(`unknown variant ${name}`);
  const app = variant.app ?? name;
  const routes = variant.routes ?? 1;
  const options = variant.options ?? {};
  return variant.framework === 'express'
    ? startExpress(app, options, scrapeRoutes, routes, listen)
    : startFastify(app, options, scrapeRoutes, routes, listen);
}

async function startExpress(name, options, scrapeRoutes, routes, listen) {
  // @routemeter/express patches Router.prototype.use on import to learn mount paths, and OpenTelemetry
  // patches express when it is required: set the library up first.
  const metrics = await expressMetrics(name, options);
  const express = require('express');
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (metrics?.middleware !== undefined) app.use(metrics.middleware);
  if (metrics?.serve !== undefined) app.get('/metrics', metrics.serve);
  app.get('/users/:id', function getUser(req, res) {
    res.json(user(req.params.id));
  });
  for (let i = 1; i < routes; i++) {
    app.get(`/c${i}/:id`, function curveRoute(req, res) {
      res.json(user(req.params.id));
    });
  }
  if (scrapeRoutes) {
    for (let i = 0; i < SCRAPE_ROUTES; i++) {
      for (const method of SCRAPE_METHODS) {
        app[method.toLowerCase()](`/r${i}/:id`, function scrapeRoute(req, res) {
          res.status(Number(req.headers['x-status'] ?? 200)).json({ ok: true });
        });
      }
    }
  }
  if (!listen) {
    const { default: inject } = await import('light-my-request');
    return { inject: (path) => inject(app, { method: 'GET', url: path }) };
  }
  return listenOn((server) => server.on('request', app));
}

/** @param {object} options routemeter's options (a variant's `options`) */
async function expressMetrics(name, options) {
  switch (name) {
    case 'express-bare':
      return undefined;
    case 'express-noop':
      return { middleware: (_req, _res, next) => next() };
    case 'express-routemeter': {
      const { routemeter } = await import('@routemeter/express');
      return { middleware: routemeter(options) };
    }
    case 'express-prom-bundle': {
      const { default: promBundle } = await import('express-prom-bundle');
      // Labels only status_code unless told; its default normalizePath turns /users/17 into /users/#val.
      return {
        middleware: promBundle({
          includeMethod: true,
          includePath: true,
          includeStatusCode: true,
          promClient: { collectDefaultMetrics: {} },
        }),
      };
    }
    case 'express-promster': {
      const promster = await import('@promster/express');
      // promster serves nothing itself: /metrics is ours, from its registry's summary.
      return {
        middleware: promster.createMiddleware({ options: {} }),
        serve: async (_req, res) => {
          res.setHeader('Content-Type', promster.getContentType());
          res.end(await promster.getSummary());
        },
      };
    }
    case 'express-otel': {
      const otel = await openTelemetry('express');
      return { middleware: undefined, serve: otel.serve };
    }
    default:
      throw new Error(`not an express variant: ${name}`);
  }
}

async function startFastify(name, options, scrapeRoutes, routes, listen) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  await fastifyMetrics(name, app, options);
  app.get('/users/:id', async function getUser(req) {
    return user(req.params.id);
  });
  for (let i = 1; i < routes; i++) {
    app.get(`/c${i}/:id`, async function curveRoute(req) {
      return user(req.params.id);
    });
  }
  if (scrapeRoutes) {
    for (let i = 0; i < SCRAPE_ROUTES; i++) {
      app.route({
        method: SCRAPE_METHODS,
        url: `/r${i}/:id`,
        handler: async function scrapeRoute(req, reply) {
          reply.code(Number(req.headers['x-status'] ?? 200));
          return { ok: true };
        },
      });
    }
  }
  if (!listen) {
    await app.ready();
    return { inject: (path) => app.inject({ method: 'GET', url: path }) };
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

/** @param {object} options routemeter's options (a variant's `options`) */
async function fastifyMetrics(name, app, options) {
  switch (name) {
    case 'fastify-bare':
      return;
    case 'fastify-hook':
      app.addHook('onResponse', function emptyOnResponse(_req, _reply, done) {
        done();
      });
      return;
    case 'fastify-routemeter': {
      const mod = await import('@routemeter/fastify');
      await app.register(mod.routemeter ?? mod.default, options);
      return;
    }
    case 'fastify-metrics': {
      const { default: metricsPlugin } = await import('fastify-metrics');
      // Route metrics (histogram + summary by method, route template, status code) are on by default.
      await app.register(metricsPlugin, { endpoint: '/metrics', routeMetrics: { enabled: true } });
      return;
    }
    case 'fastify-promster': {
      const promster = await import('@promster/fastify');
      await app.register(promster.plugin, {});
      app.get('/metrics', async (_req, reply) => {
        reply.type(promster.getContentType());
        return promster.getSummary();
      });
      return;
    }
    case 'fastify-otel': {
      const otel = await openTelemetry('fastify');
      await app.register(otel.fastifyPlugin);
      app.get('/metrics', function serveOtel(req, reply) {
        reply.hijack();
        otel.serve(req.raw, reply.raw);
      });
      return;
    }
    default:
      throw new Error(`not a fastify variant: ${name}`);
  }
}

/**
 * OpenTelemetry as its docs set it up for Prometheus: a MeterProvider read by the PrometheusExporter (its
 * handler served on our /metrics, not on a second port), the http server instrumentation (which records
 * http.server.request.duration) and the framework's instrumentation, which puts the route template in the
 * request's context as http.route. That needs a context manager: AsyncLocalStorage's. No tracer provider is
 * registered, so spans are the API's non-recording ones: the metrics cost, not tracing's.
 */
async function openTelemetry(framework) {
  const { context, metrics } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  metrics.setGlobalMeterProvider(meterProvider);
  const instrumentations = [new HttpInstrumentation()];
  let fastifyPlugin;
  if (framework === 'express') {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    instrumentations.push(new ExpressInstrumentation());
  } else {
    const { default: FastifyOtelInstrumentation } = await import('@fastify/otel');
    const fastifyOtel = new FastifyOtelInstrumentation();
    instrumentations.push(fastifyOtel);
    fastifyPlugin = fastifyOtel.plugin();
  }
  registerInstrumentations({ instrumentations, meterProvider });
  require('node:http'); // patched on require: Server.prototype.emit, shared with every importer
  return { serve: (req, res) => exporter.getMetricsRequestHandler(req, res), fastifyPlugin };
}

async function listenOn(attach) {
  const { createServer } = require('node:http');
  const server = createServer({ keepAliveTimeout: 60_000 });
  attach(server);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
