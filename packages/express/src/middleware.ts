import type { Logger, RoutemeterOptions } from '@routemeter/core';
import {
  closedStatus,
  createRecorder,
  onResponseClosed,
  RECORDED_BY_ANOTHER_WARNING,
  UNCALLED_FACTORY_WARNING,
  writeScrape,
} from '@routemeter/core/adapter';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isOnRouter, unmeteredRoutes } from './route-order.js';
import { mountTemplate, routeTemplate } from './route-template.js';

/** Options of the Express middleware: every core option, typed with Express's request and response. */
export type ExpressRoutemeterOptions = RoutemeterOptions<Request, Response>;

/**
 * Responses being recorded, so that a second routemeter on the same request (mounted on the app and
 * on a router) leaves it to the first. A WeakSet, not a property on `res`: Express re-prototypes `res`
 * for every request, and adding properties to it measured ~3 µs per request; a WeakSet entry, ~0.3 µs.
 */
const recording = new WeakSet<Response>();

/** The middleware, with {@link RoutemeterMiddleware.close} for apps that are created and closed (tests). */
export interface RoutemeterMiddleware extends RequestHandler {
  /** Releases what routemeter holds outside the registry (in a cluster worker, the primary's access to it). */
  close(): void;
}

let warnedUncalled = false;

/**
 * Express middleware that times and counts every request by route template and status code,
 * and serves the registry on `metricsPath`. Use it before your routes.
 * @throws {import('@routemeter/core').RoutemeterOptionError} at creation, naming an invalid option.
 * @example
 * import express from 'express';
 * import { routemeter } from '@routemeter/express';
 *
 * const app = express();
 * app.use(routemeter());
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 */
export function routemeter(options?: ExpressRoutemeterOptions): RoutemeterMiddleware;
export function routemeter(options?: ExpressRoutemeterOptions, ...misuse: unknown[]): RoutemeterMiddleware {
  // `app.use(routemeter)` passes the factory as middleware: Express calls it with (req, res, next).
  // TypeScript cannot refuse it (any one-argument function is an Express error handler's shape).
  const next = misuse[1];
  if (typeof next === 'function') {
    if (!warnedUncalled) {
      warnedUncalled = true;
      console.warn(UNCALLED_FACTORY_WARNING);
    }
    (next as NextFunction)();
    return undefined as unknown as RoutemeterMiddleware;
  }
  const recorder = createRecorder(options);
  const { metricsPath, recordScrapes, logger } = recorder.options;
  const excludes = recorder.options.exclude !== undefined;
  let checkedRouteOrder = false;
  let warnedRecordedByAnother = false;

  function serveMetrics(req: Request, res: Response, next: NextFunction): void {
    // Late answers (a timeout middleware answered first, the client left) are dropped, not sent twice.
    recorder.scrape(req.headers.accept, req.headers.authorization, req).then(
      (scrape) => writeScrape(req, res, scrape),
      (error: unknown) => {
        if (!res.headersSent) next(error);
      },
    );
  }

  function routemeterMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (recording.has(res)) {
      if (!warnedRecordedByAnother) {
        warnedRecordedByAnother = true;
        logger.warn(RECORDED_BY_ANOTHER_WARNING);
      }
      next();
      return;
    }
    if (!checkedRouteOrder) {
      checkedRouteOrder = true;
      warnOfUnmeteredRoutes(req, routemeterMiddleware, logger);
    }
    // req.url first: parsing the path (req.path) is needed only for URLs that could be the metrics path.
    const isScrape =
      metricsPath !== false &&
      req.url.startsWith(metricsPath) &&
      (req.method === 'GET' || req.method === 'HEAD') &&
      req.path === metricsPath;
    if (isScrape && !recordScrapes) {
      serveMetrics(req, res, next);
      return;
    }
    if (excludes && recorder.isExcluded(req.path, req)) {
      next();
      return;
    }

    const methodRecorder = recorder.method(req.method);
    const start = performance.now();
    methodRecorder.start();
    recording.add(res);
    // One listener sees finished and abandoned responses alike; the state it needs lives in this closure
    // (cheaper than properties on the re-prototyped `res`, see above).
    onResponseClosed(req, res, function routemeterRecord() {
      const statusCode = closedStatus(res.headersSent, res.statusCode);
      // A recorded scrape has no route: it is labelled with metricsPath itself. A 404 outside any route
      // is `#unmatched` even from a mount (express.static's miss), so scans never make labels.
      const route = isScrape
        ? (metricsPath as string)
        : (routeTemplate(req, logger) ?? (statusCode === 404 ? undefined : mountTemplate(req)));
      methodRecorder.finish(route, statusCode, (performance.now() - start) / 1000, req, res);
    });
    if (isScrape) serveMetrics(req, res, next);
    else next();
  }

  return Object.assign(routemeterMiddleware, { close: recorder.close });
}

/** Once, at the first request: routes added before the middleware, or outside the one calling it, never reach it. */
function warnOfUnmeteredRoutes(req: Request, middleware: RequestHandler, logger: Logger): void {
  if (!isOnRouter(req.app, middleware)) {
    logger.warn(
      "routemeter: the middleware is called by another middleware, not added to the app (NestJS's `consumer.apply(routemeter()).forRoutes(…)` does this), so it records only the requests that one passes on and cannot serve metricsPath beyond them: with NestJS, import `RoutemeterModule.forRoot()` from @routemeter/nestjs; otherwise `app.use(routemeter())` before your routes",
    );
    return;
  }
  const unmetered = unmeteredRoutes(req.app, middleware);
  if (unmetered.length === 0) return;
  const examples = unmetered.slice(0, 3).join(', ');
  logger.warn(
    `routemeter: ${unmetered.length} route${unmetered.length === 1 ? ' was' : 's were'} added before \`app.use(routemeter())\` and ${unmetered.length === 1 ? 'is' : 'are'} not recorded (${examples}${unmetered.length > 3 ? ', …' : ''}): call \`app.use(routemeter())\` before adding routes`,
  );
}
