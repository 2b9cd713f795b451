import { shareWithPrimary } from './cluster/worker.js';
import { createScrapeHandler, type ScrapeHandler } from './exposition.js';
import { methodLabel } from './labels.js';
import { requestMetrics } from './metrics.js';
import { type AnyRegistry, type ResolvedOptions, type RoutemeterOptions, resolveOptions } from './options.js';
import { MethodRecorder, type RouteRecorder, routeRecorder, unmatchedRecorder } from './request-recorders.js';
import { httpSizes } from './request-values.js';
import { RouteTable } from './route-table.js';
import type { RecorderContext, SizeReaders } from './series.js';

/**
 * The framework-agnostic half of an adapter: options resolved once, metrics on the registry, and the
 * recorders of finished requests. Adapters keep the recorders it hands out, so recording a request does
 * no option lookups and builds no label objects.
 */
export interface Recorder<Req, Res> {
  readonly options: ResolvedOptions<Req, Res>;
  readonly registry: AnyRegistry;
  /** True when a request to this path should not be recorded (`exclude`); without `req`, by the path alone. */
  isExcluded(path: string, req: Req | undefined): boolean;
  /** The recorder of a request method (non-standard methods share one), created once per method. */
  method(method: string): MethodRecorder<Req, Res>;
  /** A recorder bound to one route template and its methods, for adapters that know their routes up front. */
  route(methods: readonly string[], template: string): RouteRecorder<Req, Res>;
  /** The recorder of requests no route matched, by their method. */
  readonly unmatched: RouteRecorder<Req, Res>;
  /** Answers a scrape of the registry in the format `Accept` prefers, checking `auth` on `Authorization` or `req`. */
  readonly scrape: ScrapeHandler<Req>;
  /**
   * Releases what this routemeter holds outside its registry (in a cluster worker, the primary's access
   * to it). Its metrics stay on the registry, which other apps may share. Idempotent.
   */
  close(): void;
}

/**
 * Creates the core of an adapter. Options are validated here, once. Body sizes are read from the
 * `Content-Length` headers of Node-like requests and responses unless the adapter gives its own readers.
 * @throws {import('./errors.js').RoutemeterOptionError} naming the first invalid option.
 * @example
 * const recorder = createRecorder(options);
 * const get = recorder.method('GET');
 * get.start();
 * get.finish('/users/:id', 200, 0.012, req, res);
 */
export function createRecorder<Req, Res>(
  options: RoutemeterOptions<Req, Res> | undefined,
  sizes: SizeReaders<Req, Res> = httpSizes as SizeReaders<Req, Res>,
): Recorder<Req, Res> {
  const resolved = resolveOptions(options);
  const stopSharing = shareWithPrimary(resolved.registry);
  const context: RecorderContext<Req, Res> = {
    metrics: requestMetrics(resolved as ResolvedOptions<unknown, unknown>),
    options: resolved,
    sizes,
    routes: new RouteTable(resolved.maxRoutes, resolved.logger),
  };
  const methods = new Map<string, MethodRecorder<Req, Res>>();
  const exclude = resolved.exclude;

  function method(name: string): MethodRecorder<Req, Res> {
    let recorder = methods.get(name);
    if (recorder === undefined) {
      const label = methodLabel(name);
      recorder = methods.get(label) ?? new MethodRecorder(context, label);
      // Keyed by label only: non-standard methods must not grow this map.
      methods.set(label, recorder);
    }
    return recorder;
  }

  return {
    options: resolved,
    registry: resolved.registry,
    isExcluded: exclude === undefined ? () => false : exclude,
    method,
    route: (names, template) => routeRecorder(method, names, template, resolved.normalizeRoute !== undefined),
    unmatched: unmatchedRecorder(method),
    scrape: createScrapeHandler(resolved.registry, resolved.logger, resolved.auth),
    close: stopSharing,
  };
}
