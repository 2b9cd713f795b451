import { register as globalRegister, type Registry, type RegistryContentType } from 'prom-client';
import { type CompiledAuth, compileAuth, type MetricsAuth } from './auth.js';
import { RoutemeterOptionError } from './errors.js';
import { activeSpanExemplar, type ExemplarGetter, type ExemplarLabels, guardExemplars } from './exemplars.js';
import { NAMINGS } from './metrics.js';
import { guardExclude, guardLabel, guardNormalizeRoute, quietLogger } from './user-code.js';

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
  /** Receives routemeter's warnings. Default: `console`. */
  logger?: Logger | undefined;
}

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
  readonly logger: Logger;
}

type Check = (value: unknown) => string | undefined;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const isBoolean: Check = (value) =>
  typeof value === 'boolean' ? undefined : `must be a boolean, got ${describe(value)}`;

const oneOf =
  (...allowed: string[]): Check =>
  (value) =>
    allowed.includes(value as string)
      ? undefined
      : `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`;

const isFunction: Check = (value) =>
  typeof value === 'function' ? undefined : `must be a function, got ${describe(value)}`;

const isBuckets: Check = (value) => {
  if (!Array.isArray(value) || value.length === 0)
    return `must be a non-empty array of numbers, got ${describe(value)}`;
  for (let i = 0; i < value.length; i++) {
    const bound: unknown = value[i];
    if (typeof bound !== 'number' || !Number.isFinite(bound))
      return `must hold finite numbers, got ${describe(bound)} at index ${i}`;
    if (i > 0 && bound <= (value[i - 1] as number))
      return `must be strictly increasing, but ${bound} follows ${value[i - 1]}`;
  }
  return undefined;
};

const checks: { readonly [K in keyof RoutemeterOptions]-?: Check } = {
  registry: (value) =>
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AnyRegistry).getSingleMetric === 'function' &&
    typeof (value as AnyRegistry).registerMetric === 'function'
      ? undefined
      : `must be a prom-client Registry, got ${describe(value)}`,
  prefix: (value) =>
    typeof value === 'string' && (value === '' || METRIC_PREFIX.test(value))
      ? undefined
      : `must be a string of letters, digits, '_' or ':' not starting with a digit, got ${describe(value)}`,
  naming: oneOf('prometheus', 'otel'),
  buckets: isBuckets,
  sizeBuckets: isBuckets,
  requestsInFlight: isBoolean,
  requestSize: isBoolean,
  responseSize: isBoolean,
  normalizeRoute: isFunction,
  maxRoutes: (value) =>
    Number.isSafeInteger(value) && (value as number) > 0
      ? undefined
      : `must be a positive integer, got ${describe(value)}`,
  statusCode: oneOf('exact', 'class'),
  exclude: (value) => {
    if (typeof value === 'function') return undefined;
    if (!Array.isArray(value)) return `must be an array of paths and RegExps, or a function, got ${describe(value)}`;
    const bad = value.find((entry) => typeof entry !== 'string' && !(entry instanceof RegExp));
    return bad === undefined ? undefined : `must hold only strings and RegExps, got ${describe(bad)}`;
  },
  labels: (value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return `must be an object of label name to getter function, got ${describe(value)}`;
    }
    for (const [name, getter] of Object.entries(value)) {
      if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le') {
        return `has an invalid label name '${name}': use letters, digits and '_', not starting with a digit or '__', and not 'le'`;
      }
      if (typeof getter !== 'function') return `.${name} must be a function, got ${describe(getter)}`;
    }
    return undefined;
  },
  defaultMetrics: isBoolean,
  metricsPath: (value) => {
    if (value === false) return undefined;
    if (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value)) {
      return `must be a path starting with '/' (no query, fragment or spaces) or false, got ${describe(value)}`;
    }
    // Prometheus requests the path exactly as configured, and the frameworks route '/metrics/' apart from '/metrics'.
    if (value.length > 1 && value.endsWith('/')) {
      return `must not end with '/', got ${describe(value)}: use ${describe(value.replace(/\/+$/, '') || '/')}`;
    }
    return undefined;
  },
  exemplars: (value) =>
    typeof value === 'boolean' || typeof value === 'function'
      ? undefined
      : `must be a boolean or a function (req, res) => labels, got ${describe(value)}`,
  auth: (value) => {
    if (typeof value === 'function') return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return `must be { bearer?, basic? } or a function, got ${describe(value)}`;
    }
    const { bearer, basic, ...rest } = value as { bearer?: unknown; basic?: unknown };
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) return `has an unknown key '${unknown}': use bearer and/or basic`;
    if (bearer === undefined && basic === undefined) return 'must set bearer and/or basic';
    const tokens = bearer === undefined ? [] : Array.isArray(bearer) ? bearer : [bearer];
    if (tokens.length === 0 && bearer !== undefined) return '.bearer must hold at least one token';
    if (tokens.some((token) => typeof token !== 'string' || token === '' || /\s/.test(token))) {
      return '.bearer must be non-empty strings without spaces';
    }
    const credentials = basic === undefined ? [] : Array.isArray(basic) ? basic : [basic];
    if (credentials.length === 0 && basic !== undefined) return '.basic must hold at least one { username, password }';
    const badCredentials = credentials.some(
      (c: unknown) =>
        c === null ||
        typeof c !== 'object' ||
        typeof (c as { username?: unknown }).username !== 'string' ||
        typeof (c as { password?: unknown }).password !== 'string' ||
        (c as { username: string }).username.includes(':'),
    );
    return badCredentials ? '.basic must be { username, password } strings, with no ":" in the username' : undefined;
  },
  recordScrapes: isBoolean,
  logger: (value) =>
    value !== null && typeof value === 'object' && typeof (value as Logger).warn === 'function'
      ? undefined
      : `must be an object with a warn(message) method, got ${describe(value)}`,
};

const optionNames = Object.keys(checks);

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
    logger,
  };
}

/**
 * `exclude` as one function of the request path. A path and its trailing-slash twin (`/health/`, which the
 * frameworks may route to `/health`) are excluded together. RegExps are copied without the `g` and `y`
 * flags, whose `lastIndex` would make every other test fail.
 */
function compileExclude<Req>(
  exclude: ReadonlyArray<string | RegExp> | ((req: Req) => boolean),
  logger: Logger,
): (path: string, req: Req | undefined) => boolean {
  if (typeof exclude === 'function') {
    const isExcluded = guardExclude(exclude, logger);
    return (_path, req) => req !== undefined && isExcluded(req);
  }
  const paths = new Set(
    exclude.filter((entry): entry is string => typeof entry === 'string').map((path) => withoutTrailingSlash(path)),
  );
  const patterns = exclude
    .filter((entry): entry is RegExp => entry instanceof RegExp)
    .map((pattern) => new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')));
  const matches = (path: string) => paths.has(path) || patterns.some((pattern) => pattern.test(path));
  return function isExcludedPath(path) {
    if (path.length < 2 || path.charCodeAt(path.length - 1) !== SLASH) return matches(path);
    return matches(path) || matches(withoutTrailingSlash(path));
  };
}

const SLASH = 0x2f;

function withoutTrailingSlash(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === SLASH) end--;
  return end === path.length ? path : path.slice(0, end);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

/** The known name closest to a misspelt one, if any is close enough to be a likely typo. */
function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
