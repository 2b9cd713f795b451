import { Readable } from 'node:stream';
import {
  CLIENT_CLOSED_STATUS,
  contentLength,
  createRoutemeter,
  type MethodMeter,
  type RoutemeterOptions,
} from '@routemeter/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { routeTemplate } from './route-template.js';

/** Options of the Express middleware: every core option, typed with Express's request and response. */
export type ExpressRoutemeterOptions = RoutemeterOptions<Request, Response>;

const kStart = Symbol('routemeter.start');
const kMeter = Symbol('routemeter.meter');

/** Per-request state, kept on the response so the close listener can be one shared function. */
interface MeteredResponse extends Response {
  [kStart]?: number;
  [kMeter]?: MethodMeter<Request, Response>;
}

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

  /** Scrapes are left out unless `recordScrapes`; then they are recorded under `metricsPath` itself. */
  function recordScrape(req: Request, res: MeteredResponse): void {
    const methodMeter = meter.method(req.method);
    const start = performance.now();
    methodMeter.start();
    res[kMeter] = methodMeter;
    res.on('close', () => methodMeter.finish(metricsPath as string, statusOf(res), secondsSince(start), req, res));
  }

  return function routemeterMiddleware(req: Request, res: MeteredResponse, next: NextFunction): void {
    // Mounted twice (app and router, or two apps sharing a request): the first one records it.
    if (res[kMeter] !== undefined) {
      next();
      return;
    }
    if (metricsPath !== false && (req.method === 'GET' || req.method === 'HEAD') && req.path === metricsPath) {
      if (recordScrapes) recordScrape(req, res);
      serveMetrics(req, res, next);
      return;
    }
    if (excludes && meter.isExcluded(req.path, req)) {
      next();
      return;
    }

    const methodMeter = meter.method(req.method);
    methodMeter.start();
    res[kStart] = performance.now();
    res[kMeter] = methodMeter;
    res.on('close', recordOnClose);
    next();
  };
}

/**
 * Records the request once its response is done. Node emits 'close' on every response, finished or
 * not, so one listener covers both; `headersSent` tells a response from a client that left first.
 */
function recordOnClose(this: MeteredResponse): void {
  const req = this.req;
  (this[kMeter] as MethodMeter<Request, Response>).finish(
    routeTemplate(req),
    statusOf(this),
    secondsSince(this[kStart] as number),
    req,
    this,
  );
}

function statusOf(res: Response): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
}

function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
