import type { ServerResponse } from 'node:http';
import type { RoutemeterOptions } from '@routemeter/core';
import {
  closedStatus,
  contentLength,
  createRecorder,
  onResponseClosed,
  RECORDED_BY_ANOTHER_WARNING,
  type SizeReaders,
  UNCALLED_FACTORY_WARNING,
} from '@routemeter/core/adapter';
import type { Context, Middleware, Next } from 'koa';
import { warnOfUnmeteredRoutes } from './route-order.js';
import { routeTemplate } from './route-template.js';

/** Options of the Koa middleware: every core option; getters receive Koa's `ctx` (as both `req` and `res`). */
export type KoaRoutemeterOptions = RoutemeterOptions<Context, Context>;

/** The middleware, with {@link RoutemeterMiddleware.close} for apps that are created and closed (tests). */
export interface RoutemeterMiddleware extends Middleware {
  /** Releases what routemeter holds outside the registry (in a cluster worker, the primary's access to it). */
  close(): void;
}

/** Body sizes from the `Content-Length` of the Node request and of the response as sent. */
const koaSizes: SizeReaders<Context, Context> = {
  requestSize: (ctx) => contentLength(ctx.req.headers['content-length']),
  responseSize: (ctx) => contentLength(ctx.res.getHeader('content-length')),
};

/**
 * Responses being recorded, so that a second routemeter on the same request (on the app and on a router,
 * or in a mounted app) leaves it to the first, and says so once. Keyed by the Node response, which every `ctx` made for it shares.
 */
const recording = new WeakSet<ServerResponse>();

let warnedUncalled = false;

/**
 * Koa middleware that times and counts every request by the @koa/router route template and the status
 * code Koa sent, and serves the registry on `metricsPath`. Use it first, before your routers.
 * @throws {import('@routemeter/core').RoutemeterOptionError} at creation, naming an invalid option.
 * @example
 * import Koa from 'koa';
 * import Router from '@koa/router';
 * import { routemeter } from '@routemeter/koa';
 *
 * const app = new Koa();
 * app.use(routemeter());
 * const router = new Router();
 * router.get('/users/:id', (ctx) => { ctx.body = { id: ctx.params.id }; });
 * app.use(router.routes());
 */
export function routemeter(options?: KoaRoutemeterOptions): RoutemeterMiddleware;
export function routemeter(options?: KoaRoutemeterOptions, ...misuse: unknown[]): RoutemeterMiddleware {
  // `app.use(routemeter)` makes the factory itself the middleware: Koa calls it with (ctx, next).
  const next = misuse[0];
  if (typeof next === 'function') {
    if (!warnedUncalled) {
      warnedUncalled = true;
      console.warn(UNCALLED_FACTORY_WARNING);
    }
    return (next as Next)() as unknown as RoutemeterMiddleware;
  }
  const recorder = createRecorder<Context, Context>(options, koaSizes);
  const { metricsPath, recordScrapes, logger } = recorder.options;
  const excludes = recorder.options.exclude !== undefined;
  let checkedRouteOrder = false;
  let warnedRecordedByAnother = false;

  /** Answers the scrape the Koa way, so middleware before routemeter (headers, compression) still applies. */
  async function serveMetrics(ctx: Context): Promise<void> {
    const scrape = await recorder.scrape(ctx.req.headers.accept, ctx.req.headers.authorization, ctx);
    ctx.status = scrape.status;
    ctx.set(scrape.headers);
    // A stream, not the joined text: Koa pipes it, and destroys it if the client leaves first.
    ctx.body = scrape.stream();
    ctx.length = scrape.byteLength;
  }

  function routemeterMiddleware(ctx: Context, next: Next): Promise<void> {
    const { req, res } = ctx;
    if (recording.has(res)) {
      if (!warnedRecordedByAnother) {
        warnedRecordedByAnother = true;
        logger.warn(RECORDED_BY_ANOTHER_WARNING);
      }
      return next();
    }
    if (!checkedRouteOrder) {
      checkedRouteOrder = true;
      warnOfUnmeteredRoutes(ctx.app, routemeterMiddleware, logger);
    }
    const method = req.method as string;
    // req.url first: parsing the path is needed only for URLs that could be the metrics path.
    const isScrape =
      metricsPath !== false &&
      (req.url as string).startsWith(metricsPath) &&
      (method === 'GET' || method === 'HEAD') &&
      ctx.path === metricsPath;
    if (isScrape && !recordScrapes) return serveMetrics(ctx);
    if (excludes && recorder.isExcluded(ctx.path, ctx)) return next();

    const methodRecorder = recorder.method(method);
    const start = performance.now();
    methodRecorder.start();
    recording.add(res);
    // At 'close' the response is over whatever happened: Koa's own error handling (`ctx.onerror`, which a
    // throw after `await next()` reaches too) has set and sent its status, or the client left first.
    onResponseClosed(req, res, function routemeterRecord() {
      // A recorded scrape has no route: it is labelled with metricsPath itself.
      const route = isScrape ? (metricsPath as string) : routeTemplate(ctx);
      methodRecorder.finish(
        route,
        closedStatus(res.headersSent, res.statusCode),
        (performance.now() - start) / 1000,
        ctx,
        ctx,
      );
    });
    return isScrape ? serveMetrics(ctx) : next();
  }

  return Object.assign(routemeterMiddleware, { close: recorder.close });
}
