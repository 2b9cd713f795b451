import { shareWithPrimary } from './cluster/worker.js';
import { createScrapeHandler, type ScrapeHandler } from './exposition.js';
import { requestMetrics } from './metrics.js';
import { type AnyRegistry, type ResolvedOptions, type RoutemeterOptions, resolveOptions } from './options.js';
import { MethodMeter, type RecorderContext, RouteMeter, type SizeReaders } from './recorder.js';
import { methodLabel, RouteTable } from './route-label.js';

/**
 * The framework-agnostic half of an adapter: options resolved once, metrics on the registry,
 * and meters that record finished requests. Adapters keep the per-method and per-route meters
 * it hands out, so recording a request does no option lookups and builds no label objects.
 */
export interface Routemeter<Req, Res> {
  readonly options: ResolvedOptions<Req, Res>;
  readonly registry: AnyRegistry;
  /** True when a request to this path should not be recorded (`exclude`). */
  isExcluded(path: string, req: Req): boolean;
  /** The meter of a request method (non-standard methods share one), created once per method. */
  method(method: string): MethodMeter<Req, Res>;
  /** A meter bound to one route template, for adapters that know their routes when they are added. */
  route(method: string, template: string): RouteMeter<Req, Res>;
  /** Answers a scrape of the registry in the format `Accept` prefers, checking `auth` on `Authorization` or `req`. */
  readonly scrape: ScrapeHandler<Req>;
}

/**
 * Creates the core of an adapter. Options are validated here, once.
 * @throws {import('./errors.js').RoutemeterOptionError} naming the first invalid option.
 * @example
 * const meter = createRoutemeter(options, { requestSize: (req) => …, responseSize: (res) => … });
 * const get = meter.method('GET');
 * get.start();
 * get.finish('/users/:id', 200, 0.012, req, res);
 */
export function createRoutemeter<Req, Res>(
  options: RoutemeterOptions<Req, Res> | undefined,
  sizes: SizeReaders<Req, Res>,
): Routemeter<Req, Res> {
  const resolved = resolveOptions(options);
  shareWithPrimary(resolved.registry);
  const context: RecorderContext<Req, Res> = {
    metrics: requestMetrics(resolved as ResolvedOptions<unknown, unknown>),
    options: resolved,
    sizes,
    routes: new RouteTable(resolved.maxRoutes, resolved.logger),
  };
  const methods = new Map<string, MethodMeter<Req, Res>>();
  const exclude = resolved.exclude;

  function method(name: string): MethodMeter<Req, Res> {
    let meter = methods.get(name);
    if (meter === undefined) {
      const label = methodLabel(name);
      meter = methods.get(label) ?? new MethodMeter(context, label);
      methods.set(label, meter);
    }
    return meter;
  }

  return {
    options: resolved,
    registry: resolved.registry,
    isExcluded: exclude === undefined ? () => false : exclude,
    method,
    route: (name, template) => new RouteMeter(method(name), template, resolved.normalizeRoute !== undefined),
    scrape: createScrapeHandler(resolved.registry, resolved.logger, resolved.auth),
  };
}
