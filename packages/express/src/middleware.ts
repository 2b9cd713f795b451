import { Readable } from 'node:stream';
import { CLIENT_CLOSED_STATUS, contentLength, createRoutemeter, type RoutemeterOptions } from '@routemeter/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { routeTemplate } from './route-template.js';

/** Options of the Express middleware: every core option, typed with Express's request and response. */
export type ExpressRoutemeterOptions = RoutemeterOptions<Request, Response>;

/**
 * Responses being recorded, so that a second routemeter on the same request (mounted on the app and
 * on a router) leaves it to the first. A WeakSet, not a property on `res`: Express re-prototypes `res`
 * for every request, and adding properties to it measured ~3 µs per request; a WeakSet entry, ~0.3 µs.
 */
const recording = new WeakSet<Response>();

const sizes = {
  requestSize: (req: Request) => contentLength(req.headers['content-length']),
  responseSize: (res: Response) => contentLength(res.getHeader('content-length')),
};

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
export function routemeter(options?: ExpressRoutemeterOptions): RequestHandler {
  const meter = createRoutemeter(options, sizes);
  const { metricsPath, recordScrapes } = meter.options;
  const excludes = meter.options.exclude !== undefined;

  function serveMetrics(req: Request, res: Response, next: NextFunction): void {
    meter.scrape(req.headers.accept, req.headers.authorization, req).then((scrape) => {
      res.statusCode = scrape.status;
      for (const [name, value] of Object.entries(scrape.headers)) res.setHeader(name, value);
      res.setHeader('Content-Length', scrape.byteLength);
      // Streamed piece by piece: a large scrape written at once would stall the event loop.
      if (req.method === 'HEAD') res.end();
      else Readable.from(scrape.chunks).pipe(res);
    }, next);
  }

  return function routemeterMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (recording.has(res)) {
      next();
      return;
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
    if (excludes && meter.isExcluded(req.path, req)) {
      next();
      return;
    }

    const methodMeter = meter.method(req.method);
    const start = performance.now();
    methodMeter.start();
    recording.add(res);
    // Node emits 'close' on every response, finished or not, so one listener sees both; the state it
    // needs lives in this closure (cheaper than properties on the re-prototyped `res`, see above).
    res.on('close', function routemeterRecord() {
      // A recorded scrape has no route: it is labelled with metricsPath itself.
      const route = isScrape ? (metricsPath as string) : routeTemplate(req);
      methodMeter.finish(route, statusOf(res), (performance.now() - start) / 1000, req, res);
    });
    if (isScrape) serveMetrics(req, res, next);
    else next();
  };
}

/** The status to record: what was sent, or 499 when the client left before a response was started. */
function statusOf(res: Response): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
}
