import { statusLabel } from './labels.js';
import type { RequestMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { RouteTable } from './route-table.js';
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

/** What every recorder of one routemeter shares. */
export interface RecorderContext<Req, Res> {
  readonly metrics: RequestMetrics;
  readonly options: ResolvedOptions<Req, Res>;
  readonly sizes: SizeReaders<Req, Res>;
  readonly routes: RouteTable;
}

/**
 * The label sets of one (method, route) pair: finds the {@link Series} of a request's status code (and
 * custom label values) and observes the request in it. `req` and `res` are undefined only for requests
 * recorded bare (see `MethodRecorder.recordBare`).
 */
export interface LabelSets<Req, Res> {
  observe(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void;
}

/** The label sets of one method and route label value. */
export function labelSets<Req, Res>(
  context: RecorderContext<Req, Res>,
  method: string,
  route: string,
): LabelSets<Req, Res> {
  return context.options.labels.length === 0
    ? new FixedLabelSets(context, method, route)
    : new CustomLabelSets(context, method, route);
}

class FixedLabelSets<Req, Res> implements LabelSets<Req, Res> {
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

  observe(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void {
    const key = this.#byClass ? (statusCode / 100) | 0 : statusCode;
    let series = this.#byStatus.get(key);
    if (series === undefined) {
      series = createSeries(this.#context.metrics, [this.#method, this.#route, statusLabel(key, this.#byClass)]);
      this.#byStatus.set(key, series);
    }
    observeRequest(series, this.#context, seconds, req, res);
  }
}

/** A level of {@link CustomLabelSets}' tree: one map per custom label, series at the leaves. */
type LabelTree = Map<string, LabelTree | Series>;

/**
 * Label sets that include custom labels, read per request from the getters. The series are found through
 * one map per label, keyed by each value as it is: no key string is built per request, and no two label
 * sets can share a key whatever their values hold.
 */
class CustomLabelSets<Req, Res> implements LabelSets<Req, Res> {
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

  observe(statusCode: number, seconds: number, req: Req | undefined, res: Res | undefined): void {
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
    observeRequest(series, this.#context, seconds, req, res);
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

/** One request in its series: counted, timed, sized, and its exemplar kept. */
function observeRequest<Req, Res>(
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
