import { register as globalRegister, type Registry, type RegistryContentType } from 'prom-client';
import { type CompiledAuth, compileAuth, type MetricsAuth } from './auth.js';
import { RoutemeterOptionError } from './errors.js';
import { compileExclude } from './exclude.js';
import { activeSpanExemplar, type ExemplarGetter, type ExemplarLabels, guardExemplars } from './exemplars.js';
import { NAMINGS } from './metrics.js';
import { DEFAULT_ZERO_THRESHOLD, type NativeSettings, schemaForFactor } from './native-histogram.js';
import { checks, describe, nearestName, optionNames } from './option-checks.js';
import { guardLabel, guardNormalizeRoute, quietLogger } from './user-code.js';

/** A prom-client registry of either content type. */
export type AnyRegistry = Registry<RegistryContentType>;

/** Reads one custom label value from a finished request. */
export type LabelGetter<Req, Res> = (req: Req, res: Res) => string | number;

/** Where routemeter reports the few things it has to say (one route-cap warning, failed scrapes). */
export interface Logger {
  warn(message: string): void;
}

/** Options shared by every routemeter adapter. Each one is documented, with its default, in the README. */
export interface RoutemeterOptions<Req = unknown, Res = unknown> {
  /** prom-client registry to record into and serve. Default: prom-client's global `register`. */
  registry?: AnyRegistry | undefined;
  /** Prepended to every metric name routemeter creates. Default: `''`. */
  prefix?: string | undefined;
  /** `'prometheus'` (`http_requests_total`, …) or `'otel'` (OpenTelemetry HTTP semantic conventions). Default: `'prometheus'`. */
  naming?: 'prometheus' | 'otel' | undefined;
  /** Upper bounds of the duration histogram, in seconds, strictly increasing. Default: {@link DEFAULT_DURATION_BUCKETS}. */
  buckets?: readonly number[] | undefined;
  /** Upper bounds of the size histograms, in bytes, strictly increasing. Default: {@link DEFAULT_SIZE_BUCKETS}. */
  sizeBuckets?: readonly number[] | undefined;
  /** Adds a gauge of requests being served, by method. Default: `false`. */
  requestsInFlight?: boolean | undefined;
  /** Adds a histogram of request body sizes (from `Content-Length`). Default: `false`. */
  requestSize?: boolean | undefined;
  /** Adds a histogram of response body sizes (from `Content-Length`). Default: `false`. */
  responseSize?: boolean | undefined;
  /** Rewrites a route template before it becomes a label. Runs per request. Default: none. */
  normalizeRoute?: ((route: string, req: Req) => string) | undefined;
  /** Most distinct route label values; later ones are recorded as {@link OVERFLOW_ROUTE}. Default: `1000`. */
  maxRoutes?: number | undefined;
  /** `'exact'` labels `404`; `'class'` labels `4xx`. Default: `'exact'`. */
  statusCode?: 'exact' | 'class' | undefined;
  /** Requests left unrecorded: URL paths (exact strings or RegExps) or a predicate. Default: none. */
  exclude?: ReadonlyArray<string | RegExp> | ((req: Req) => boolean) | undefined;
  /** Extra labels, each read from the finished request. Keep their values bounded. Default: none. */
  labels?: Readonly<Record<string, LabelGetter<Req, Res>>> | undefined;
  /** Collects prom-client's process metrics on the registry (once per registry). Default: `true`. */
  defaultMetrics?: boolean | undefined;
  /** Path the metrics are served on, or `false` to serve them yourself. Default: `'/metrics'`. */
  metricsPath?: string | false | undefined;
  /**
   * Exemplars on the duration histogram and the request counter, in OpenMetrics output only:
   * `true` takes the trace and span ids of the active OpenTelemetry span (needs `@opentelemetry/api`),
   * a function returns the labels itself. Default: `false`.
   */
  exemplars?: boolean | ExemplarGetter<Req, Res> | undefined;
  /** Who may read `metricsPath`: bearer tokens, basic credentials, or a predicate. Default: anyone. */
  auth?: MetricsAuth<Req> | undefined;
  /** Records requests to `metricsPath` like any other route. Default: `false`. */
  recordScrapes?: boolean | undefined;
  /**
   * Native (sparse exponential) buckets on the duration and size histograms, besides the classic ones,
   * served to scrapers that ask for the Prometheus protobuf format. `true` takes every default.
   * With `buckets: []` (or `sizeBuckets: []`) the histogram is native only. Default: `false`.
   */
  nativeHistograms?: boolean | NativeHistogramOptions | undefined;
  /** Receives routemeter's warnings. Default: `console`. */
  logger?: Logger | undefined;
}

/** The `nativeHistograms` option's settings, as client_golang names them. */
export interface NativeHistogramOptions {
  /** Largest ratio between two neighbouring bucket bounds of the duration histogram (> 1). Default: `1.1`. */
  bucketFactor?: number | undefined;
  /** The same for the size histograms. Default: `bucketFactor`. */
  sizeBucketFactor?: number | undefined;
  /** Most buckets a series keeps; past it, its resolution is halved. Default: `160`. */
  maxBuckets?: number | undefined;
  /** Values at most this go to the zero bucket. Default: `2 ** -128`. */
  zeroThreshold?: number | undefined;
  /**
   * Milliseconds after which a series over `maxBuckets` is reset (all of it, and Prometheus sees a
   * counter reset) rather than losing resolution. Default: none (never reset).
   */
  minResetInterval?: number | undefined;
}

export const DEFAULT_NATIVE_BUCKET_FACTOR = 1.1;
export const DEFAULT_NATIVE_MAX_BUCKETS = 160;

/** OpenTelemetry's recommended HTTP server duration buckets, in seconds. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Body size buckets, in bytes: 100 B to 10 MB by powers of ten. */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([
  100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000,
]);

export const DEFAULT_MAX_ROUTES = 1000;

/**
 * Options after validation: every default applied, every value checked, and every user callback wrapped
 * so that it cannot throw, reject or return a value of the wrong kind (user-code.ts).
 */
export interface ResolvedOptions<Req, Res> {
  readonly registry: AnyRegistry;
  readonly prefix: string;
  readonly naming: 'prometheus' | 'otel';
  readonly buckets: number[];
  readonly sizeBuckets: number[];
  readonly requestsInFlight: boolean;
  readonly requestSize: boolean;
  readonly responseSize: boolean;
  readonly normalizeRoute: ((route: string, req: Req) => string) | undefined;
  readonly maxRoutes: number;
  readonly statusCode: 'exact' | 'class';
  /** True for a request not to record; `req` is undefined for requests recorded bare (not asked of a predicate). */
  readonly exclude: ((path: string, req: Req | undefined) => boolean) | undefined;
  readonly labels: ReadonlyArray<readonly [name: string, getter: (req: Req, res: Res) => string]>;
  readonly defaultMetrics: boolean;
  readonly metricsPath: string | false;
  readonly exemplars: ((req: Req, res: Res) => ExemplarLabels | undefined) | undefined;
  readonly auth: CompiledAuth<Req> | undefined;
  readonly recordScrapes: boolean;
  /** Settings of the native buckets of the duration and of the size histograms; undefined: none. */
  readonly nativeHistograms: { readonly duration: NativeSettings; readonly size: NativeSettings } | undefined;
  readonly logger: Logger;
}

/**
 * Checks every option once, at creation, and applies the defaults.
 * @throws {RoutemeterOptionError} naming the first invalid option.
 */
export function resolveOptions<Req, Res>(options: RoutemeterOptions<Req, Res> | undefined): ResolvedOptions<Req, Res> {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new RoutemeterOptionError('options', `must be an object, got ${describe(options)}`);
  }
  for (const [name, value] of Object.entries(options)) {
    const check = checks[name as keyof RoutemeterOptions];
    if (check === undefined) {
      const nearest = nearestName(name, optionNames);
      throw new RoutemeterOptionError(name, `is not an option${nearest ? `; did you mean \`${nearest}\`?` : ''}`);
    }
    if (value === undefined) continue;
    const problem = check(value);
    if (problem !== undefined) throw new RoutemeterOptionError(name, problem);
  }
  const o = options;
  const logger = quietLogger(o.logger ?? console);
  const naming = NAMINGS[o.naming ?? 'prometheus'];
  for (const name of Object.keys(o.labels ?? {})) {
    if (name === naming.method || name === naming.route || name === naming.status) {
      throw new RoutemeterOptionError('labels', `has a label '${name}', which routemeter sets itself`);
    }
  }
  const nativeHistograms = resolveNative(o.nativeHistograms);
  for (const name of ['buckets', 'sizeBuckets'] as const) {
    if (o[name]?.length === 0 && nativeHistograms === undefined) {
      throw new RoutemeterOptionError(name, 'must be a non-empty array of numbers, or [] with `nativeHistograms` on');
    }
  }
  return {
    registry: o.registry ?? globalRegister,
    prefix: o.prefix ?? '',
    naming: o.naming ?? 'prometheus',
    buckets: [...(o.buckets ?? DEFAULT_DURATION_BUCKETS)],
    sizeBuckets: [...(o.sizeBuckets ?? DEFAULT_SIZE_BUCKETS)],
    requestsInFlight: o.requestsInFlight ?? false,
    requestSize: o.requestSize ?? false,
    responseSize: o.responseSize ?? false,
    normalizeRoute: o.normalizeRoute === undefined ? undefined : guardNormalizeRoute(o.normalizeRoute, logger),
    maxRoutes: o.maxRoutes ?? DEFAULT_MAX_ROUTES,
    statusCode: o.statusCode ?? 'exact',
    exclude: o.exclude === undefined ? undefined : compileExclude(o.exclude, logger),
    labels: Object.entries(o.labels ?? {}).map(([name, getter]) => [name, guardLabel(name, getter, logger)] as const),
    defaultMetrics: o.defaultMetrics ?? true,
    metricsPath: o.metricsPath ?? '/metrics',
    exemplars: o.exemplars
      ? guardExemplars(o.exemplars === true ? activeSpanExemplar() : o.exemplars, logger)
      : undefined,
    auth: o.auth === undefined ? undefined : compileAuth(o.auth, logger),
    recordScrapes: o.recordScrapes ?? false,
    nativeHistograms,
    logger,
  };
}

function resolveNative(
  option: boolean | NativeHistogramOptions | undefined,
): ResolvedOptions<unknown, unknown>['nativeHistograms'] {
  if (option === undefined || option === false) return undefined;
  const {
    bucketFactor = DEFAULT_NATIVE_BUCKET_FACTOR,
    sizeBucketFactor = bucketFactor,
    maxBuckets = DEFAULT_NATIVE_MAX_BUCKETS,
    zeroThreshold = DEFAULT_ZERO_THRESHOLD,
    minResetInterval,
  } = option === true ? {} : option;
  const settings = (factor: number): NativeSettings => ({
    schema: schemaForFactor(factor),
    maxBuckets,
    zeroThreshold,
    minResetInterval,
  });
  return { duration: settings(bucketFactor), size: settings(sizeBucketFactor) };
}
