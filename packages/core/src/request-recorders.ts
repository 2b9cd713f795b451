import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './labels.js';
import { type LabelSets, labelSets, type RecorderContext } from './series.js';
import type { ValueSeries } from './store.js';

/**
 * Records the requests of one method: counts them in flight and hands each to its route's label sets.
 * For adapters that learn the route when the request ends (Express): the template is given per request.
 */
export class MethodRecorder<Req, Res> {
  readonly #context: RecorderContext<Req, Res>;
  readonly #method: string;
  readonly #inFlight: ValueSeries | undefined;
  readonly #routes = new Map<string, LabelSets<Req, Res>>();
  #unmatched: LabelSets<Req, Res> | undefined;
  #overflow: LabelSets<Req, Res> | undefined;

  constructor(context: RecorderContext<Req, Res>, method: string) {
    this.#context = context;
    this.#method = method;
    this.#inFlight = context.metrics.inFlight?.seriesFor([method]);
  }

  /** Call when a request starts (the in-flight gauge). */
  start(): void {
    if (this.#inFlight !== undefined) this.#inFlight.value += 1;
  }

  /** Call when a started request ends without being recorded (it turned out to be excluded). */
  end(): void {
    if (this.#inFlight !== undefined) this.#inFlight.value -= 1;
  }

  /** Call once when a started request ends, finished or aborted; `route` is the template, undefined if none matched. */
  finish(route: string | undefined, statusCode: number, seconds: number, req: Req, res: Res): void {
    this.end();
    this.recordUnstarted(route, statusCode, seconds, req, res);
  }

  /** Records a request that was never {@link start}ed (answered before the adapter saw it begin). */
  recordUnstarted(route: string | undefined, statusCode: number, seconds: number, req: Req, res: Res): void {
    const normalize = this.#context.options.normalizeRoute;
    const sets =
      route === undefined
        ? this.unmatched()
        : this.labelSetsOf(normalize === undefined ? route : normalize(route, req));
    sets.observe(statusCode, seconds, req, res);
  }

  /**
   * Records an unmatched request the framework answered before it made a request object of its own (a
   * malformed URL): user callbacks are not called for it, custom labels are empty and it has no exemplar.
   */
  recordBare(statusCode: number, seconds: number): void {
    this.unmatched().observe(statusCode, seconds, undefined, undefined);
  }

  /** The label sets of a route label value, created on first use; past `maxRoutes`, the overflow's. */
  labelSetsOf(route: string): LabelSets<Req, Res> {
    const known = this.#routes.get(route);
    if (known !== undefined) return known;
    if (this.#context.routes.admit(route) === OVERFLOW_ROUTE) {
      this.#overflow ??= labelSets(this.#context, this.#method, OVERFLOW_ROUTE);
      return this.#overflow;
    }
    const created = labelSets(this.#context, this.#method, route);
    this.#routes.set(route, created);
    return created;
  }

  unmatched(): LabelSets<Req, Res> {
    this.#unmatched ??= labelSets(this.#context, this.#method, UNMATCHED_ROUTE);
    return this.#unmatched;
  }
}

/**
 * Records the requests of one route, or of the unmatched label, whatever their method. For adapters that
 * know their routes when they are added (Fastify's `onRoute`): a route's label sets are resolved then, so
 * recording a request is a method comparison and one map lookup by status code.
 */
export interface RouteRecorder<Req, Res> {
  /** Call when a request of this route starts (the in-flight gauge). */
  start(method: string): void;
  /** Call when a started request ends without being recorded (it turned out to be excluded). */
  end(method: string): void;
  /** Call once when a started request ends, finished or aborted. */
  finish(method: string, statusCode: number, seconds: number, req: Req, res: Res): void;
  /** Records a request that was never {@link start}ed. */
  recordUnstarted(method: string, statusCode: number, seconds: number, req: Req, res: Res): void;
}

/** The methods' recorders, as a function of a (raw) method name. */
export type MethodRecorders<Req, Res> = (method: string) => MethodRecorder<Req, Res>;

/** A {@link RouteRecorder} for a route template served for one or more methods. */
export function routeRecorder<Req, Res>(
  recorderOf: MethodRecorders<Req, Res>,
  methods: readonly string[],
  template: string,
  normalizes: boolean,
): RouteRecorder<Req, Res> {
  const byMethod = new Map(
    methods.map((method) => {
      const recorder = recorderOf(method);
      // normalizeRoute runs per request, so only a route without it can be resolved now.
      const sets = normalizes ? undefined : recorder.labelSetsOf(template);
      return [method, { recorder, sets }] as const;
    }),
  );
  const [first, firstBound] = [...byMethod][0] ?? [];
  function bound(method: string) {
    return method === first ? firstBound : byMethod.get(method);
  }
  function recordUnstarted(method: string, statusCode: number, seconds: number, req: Req, res: Res): void {
    const found = bound(method);
    if (found?.sets !== undefined) found.sets.observe(statusCode, seconds, req, res);
    else (found?.recorder ?? recorderOf(method)).recordUnstarted(template, statusCode, seconds, req, res);
  }
  return {
    start: (method) => (bound(method)?.recorder ?? recorderOf(method)).start(),
    end: (method) => (bound(method)?.recorder ?? recorderOf(method)).end(),
    finish(method, statusCode, seconds, req, res) {
      (bound(method)?.recorder ?? recorderOf(method)).end();
      recordUnstarted(method, statusCode, seconds, req, res);
    },
    recordUnstarted,
  };
}

/** The {@link RouteRecorder} of requests no route matched. */
export function unmatchedRecorder<Req, Res>(recorderOf: MethodRecorders<Req, Res>): RouteRecorder<Req, Res> {
  return {
    start: (method) => recorderOf(method).start(),
    end: (method) => recorderOf(method).end(),
    finish: (method, statusCode, seconds, req, res) =>
      recorderOf(method).finish(undefined, statusCode, seconds, req, res),
    recordUnstarted: (method, statusCode, seconds, req, res) =>
      recorderOf(method).recordUnstarted(undefined, statusCode, seconds, req, res),
  };
}
