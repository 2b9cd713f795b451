import type { RequestMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import { OVERFLOW_ROUTE, type RouteTable, statusLabel, UNMATCHED_ROUTE } from './route-label.js';
import { type HistogramSeries, observe, type ValueSeries } from './store.js';
import { FAILED_LABEL_VALUE } from './user-code.js';

/** How an adapter reads body sizes from its framework's request and response. */
export interface SizeReaders<Req, Res> {
  requestSize(req: Req): number | undefined;
  responseSize(res: Res): number | undefined;
}

/** The series of every request metric for one label set, resolved once and reused by every request that has it. */
interface Series {
  readonly requests: ValueSeries | undefined;
  readonly duration: HistogramSeries;
  readonly requestSize: HistogramSeries | undefined;
  readonly responseSize: HistogramSeries | undefined;
}

/** What every method and route meter of one routemeter shares. */
export interface RecorderContext<Req, Res> {
  readonly metrics: RequestMetrics;
  readonly options: ResolvedOptions<Req, Res>;
  readonly sizes: SizeReaders<Req, Res>;
  readonly routes: RouteTable;
}

/**
 * Records requests of one (method, route) label pair, keeping one {@link Series} per status code.
 * `req` and `res` are undefined only for {@link MethodMeter.recordBare}.
 */
export interface RouteSeries<Req, Res> {
  record(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void;
}

/** Records the requests of one method: counts them in flight and hands each to its route's series. */
export class MethodMeter<Req, Res> {
  readonly #context: RecorderContext<Req, Res>;
  readonly #method: string;
  readonly #inFlight: ValueSeries | undefined;
  readonly #routes = new Map<string, RouteSeries<Req, Res>>();
  #unmatched: RouteSeries<Req, Res> | undefined;
  #overflow: RouteSeries<Req, Res> | undefined;

  constructor(context: RecorderContext<Req, Res>, method: string) {
    this.#context = context;
    this.#method = method;
    this.#inFlight = context.metrics.inFlight?.seriesFor([method]);
  }

  /** Call when a request starts. */
  start(): void {
    if (this.#inFlight !== undefined) this.#inFlight.value += 1;
  }

  /** Call when a request ends, if it was started; {@link finish} does it for you. */
  end(): void {
    if (this.#inFlight !== undefined) this.#inFlight.value -= 1;
  }

  /** Call once when a started request ends, finished or aborted; `route` is the template, undefined if none matched. */
  finish(route: string | undefined, statusCode: number, seconds: number, req: Req, res: Res): void {
    this.end();
    this.record(route, statusCode, seconds, req, res);
  }

  /** Records a request that was never {@link start}ed (answered before the adapter saw it begin). */
  record(route: string | undefined, statusCode: number, seconds: number, req: Req, res: Res): void {
    const normalize = this.#context.options.normalizeRoute;
    const series =
      route === undefined ? this.unmatched() : this.seriesFor(normalize === undefined ? route : normalize(route, req));
    series.record(statusCode, seconds, req, res);
  }

  /**
   * Records an unmatched request the framework answered before it made a request object of its own (a
   * malformed URL): user callbacks are not called for it, custom labels are empty and it has no exemplar.
   */
  recordBare(statusCode: number, seconds: number): void {
    this.unmatched().record(statusCode, seconds, undefined, undefined);
  }

  /** The series of a route label value, created on first use; past `maxRoutes`, the overflow series. */
  seriesFor(route: string): RouteSeries<Req, Res> {
    const known = this.#routes.get(route);
    if (known !== undefined) return known;
    if (this.#context.routes.admit(route) === OVERFLOW_ROUTE) {
      this.#overflow ??= routeSeries(this.#context, this.#method, OVERFLOW_ROUTE);
      return this.#overflow;
    }
    const created = routeSeries(this.#context, this.#method, route);
    this.#routes.set(route, created);
    return created;
  }

  unmatched(): RouteSeries<Req, Res> {
    this.#unmatched ??= routeSeries(this.#context, this.#method, UNMATCHED_ROUTE);
    return this.#unmatched;
  }
}

/**
 * A meter bound to one route, for adapters that know their routes up front (Fastify's `onRoute`):
 * the route's series is resolved once, so recording a request is one map lookup by status code.
 */
export class RouteMeter<Req, Res> {
  readonly #methodMeter: MethodMeter<Req, Res>;
  readonly #route: string;
  readonly #series: RouteSeries<Req, Res> | undefined;

  constructor(methodMeter: MethodMeter<Req, Res>, route: string, normalizes: boolean) {
    this.#methodMeter = methodMeter;
    this.#route = route;
    // normalizeRoute runs per request, so only a route without it can be resolved now.
    this.#series = normalizes ? undefined : methodMeter.seriesFor(route);
  }

  start(): void {
    this.#methodMeter.start();
  }

  /** Call once when a started request ends, finished or aborted. */
  finish(statusCode: number, seconds: number, req: Req, res: Res): void {
    this.#methodMeter.end();
    this.record(statusCode, seconds, req, res);
  }

  /** Records a request that was never {@link start}ed. */
  record(statusCode: number, seconds: number, req: Req, res: Res): void {
    if (this.#series === undefined) this.#methodMeter.record(this.#route, statusCode, seconds, req, res);
    else this.#series.record(statusCode, seconds, req, res);
  }
}

function routeSeries<Req, Res>(
  context: RecorderContext<Req, Res>,
  method: string,
  route: string,
): RouteSeries<Req, Res> {
  return context.options.labels.length === 0
    ? new FixedLabelSeries(context, method, route)
    : new CustomLabelSeries(context, method, route);
}

class FixedLabelSeries<Req, Res> implements RouteSeries<Req, Res> {
  readonly #context: RecorderContext<Req, Res>;
  readonly #method: string;
  readonly #route: string;
  readonly #byClass: boolean;
  readonly #byStatus = new Map<number, Series>();

  constructor(context: RecorderContext<Req, Res>, method: string, route: string) {
    this.#context = context;
    this.#method = method;
    this.#route = route;
    this.#byClass = context.options.statusCode === 'class';
  }

  record(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void {
    const key = this.#byClass ? (statusCode / 100) | 0 : statusCode;
    let series = this.#byStatus.get(key);
    if (series === undefined) {
      series = createSeries(this.#context.metrics, [this.#method, this.#route, statusLabel(key, this.#byClass)]);
      this.#byStatus.set(key, series);
    }
    record(series, this.#context, seconds, req, res);
  }
}

/** A level of {@link CustomLabelSeries}' tree: one map per custom label, series at the leaves. */
type LabelTree = Map<string, LabelTree | Series>;

/**
 * Label sets that include custom labels, read per request from the getters. The series are found through
 * one map per label, keyed by each value as it is: no key string is built per request, and no two label
 * sets can share a key whatever their values hold.
 */
class CustomLabelSeries<Req, Res> implements RouteSeries<Req, Res> {
  readonly #context: RecorderContext<Req, Res>;
  readonly #method: string;
  readonly #route: string;
  readonly #byClass: boolean;
  readonly #getters: readonly ((req: Req, res: Res) => string)[];
  readonly #byStatus = new Map<number, LabelTree>();
  /** The values of the request being recorded, reused (recording is synchronous). */
  readonly #values: string[];

  constructor(context: RecorderContext<Req, Res>, method: string, route: string) {
    this.#context = context;
    this.#method = method;
    this.#route = route;
    this.#byClass = context.options.statusCode === 'class';
    this.#getters = context.options.labels.map(([, getter]) => getter);
    this.#values = this.#getters.map(() => FAILED_LABEL_VALUE);
  }

  record(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void {
    const key = this.#byClass ? (statusCode / 100) | 0 : statusCode;
    const getters = this.#getters;
    const values = this.#values;
    for (let i = 0; i < getters.length; i++) {
      values[i] =
        req === undefined ? FAILED_LABEL_VALUE : (getters[i] as (req: Req, res: Res) => string)(req, res as Res);
    }
    let node = this.#byStatus.get(key);
    if (node === undefined) {
      node = new Map();
      this.#byStatus.set(key, node);
    }
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const value = values[i] as string;
      let next = node.get(value) as LabelTree | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    let series = node.get(values[last] as string) as Series | undefined;
    if (series === undefined) {
      const status = statusLabel(key, this.#byClass);
      series = createSeries(this.#context.metrics, [this.#method, this.#route, status, ...values]);
      node.set(values[last] as string, series);
    }
    record(series, this.#context, seconds, req, res);
  }
}

function createSeries(metrics: RequestMetrics, labelValues: readonly string[]): Series {
  const names = metrics.labelNames;
  return {
    requests: metrics.requests?.seriesFor(labelValues, names),
    duration: metrics.duration.seriesFor(labelValues, names),
    requestSize: metrics.requestSize?.seriesFor(labelValues, names),
    responseSize: metrics.responseSize?.seriesFor(labelValues, names),
  };
}

function record<Req, Res>(
  series: Series,
  context: RecorderContext<Req, Res>,
  seconds: number,
  req: Req | undefined,
  res: Res | undefined,
): void {
  if (series.requests !== undefined) series.requests.value += 1;
  const bucket = observe(series.duration, seconds);
  // A request recorded bare has nothing to read sizes or an exemplar from.
  if (req === undefined) return;
  const exemplarOf = context.options.exemplars;
  if (exemplarOf !== undefined) keepExemplar(series, bucket, exemplarOf(req, res as Res), seconds);
  const sizes = context.sizes;
  if (series.requestSize !== undefined) {
    const size = sizes.requestSize(req);
    if (size !== undefined) observe(series.requestSize, size);
  }
  if (series.responseSize !== undefined) {
    const size = sizes.responseSize(res as Res);
    if (size !== undefined) observe(series.responseSize, size);
  }
}

/** The request's exemplar becomes the latest of its duration bucket and of its request counter. */
function keepExemplar(
  series: Series,
  bucket: number,
  labels: Readonly<Record<string, string>> | undefined,
  seconds: number,
) {
  if (labels === undefined) return;
  const timestamp = Date.now() / 1000;
  series.duration.exemplars ??= [];
  series.duration.exemplars[bucket] = { labels, value: seconds, timestamp };
  if (series.requests !== undefined) series.requests.exemplar = { labels, value: 1, timestamp };
}
