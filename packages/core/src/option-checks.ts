import type { AnyRegistry, Logger, RoutemeterOptions } from './options.js';

/** One option's check: what is wrong with the value, or undefined when it is fine. */
export type Check = (value: unknown) => string | undefined;

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

/** Bucket bounds; an empty array only passes here, to be refused unless `nativeHistograms` is on (options.ts). */
const isBuckets: Check = (value) => {
  if (!Array.isArray(value)) return `must be a non-empty array of numbers, got ${describe(value)}`;
  for (let i = 0; i < value.length; i++) {
    const bound: unknown = value[i];
    if (typeof bound !== 'number' || !Number.isFinite(bound))
      return `must hold finite numbers, got ${describe(bound)} at index ${i}`;
    if (i > 0 && bound <= (value[i - 1] as number))
      return `must be strictly increasing, but ${bound} follows ${value[i - 1]}`;
  }
  return undefined;
};

const NATIVE_KEYS = ['bucketFactor', 'sizeBucketFactor', 'maxBuckets', 'zeroThreshold', 'minResetInterval'];

const isNativeHistograms: Check = (value) => {
  if (typeof value === 'boolean') return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `must be a boolean or { ${NATIVE_KEYS.join(', ')} }, got ${describe(value)}`;
  }
  const options = value as Record<string, unknown>;
  for (const [key, given] of Object.entries(options)) {
    if (!NATIVE_KEYS.includes(key)) {
      const nearest = nearestName(key, NATIVE_KEYS);
      return `has an unknown key '${key}'${nearest ? `; did you mean \`${nearest}\`?` : ''}`;
    }
    if (given === undefined) continue;
    if (key === 'bucketFactor' || key === 'sizeBucketFactor') {
      if (typeof given !== 'number' || !(given > 1) || given === Number.POSITIVE_INFINITY)
        return `.${key} must be a finite number above 1, got ${describe(given)}`;
    } else if (key === 'maxBuckets') {
      if (!Number.isSafeInteger(given) || (given as number) < 1)
        return `.maxBuckets must be a positive integer, got ${describe(given)}`;
    } else if (key === 'zeroThreshold') {
      if (typeof given !== 'number' || !Number.isFinite(given) || given < 0)
        return `.zeroThreshold must be a finite number >= 0, got ${describe(given)}`;
    } else if (typeof given !== 'number' || !Number.isFinite(given) || given <= 0) {
      return `.minResetInterval must be a positive number of milliseconds, got ${describe(given)}`;
    }
  }
  return undefined;
};

export const checks: { readonly [K in keyof RoutemeterOptions]-?: Check } = {
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
  nativeHistograms: isNativeHistograms,
  logger: (value) =>
    value !== null && typeof value === 'object' && typeof (value as Logger).warn === 'function'
      ? undefined
      : `must be an object with a warn(message) method, got ${describe(value)}`,
};

export const optionNames = Object.keys(checks);

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

/** The known name closest to a misspelt one, if any is close enough to be a likely typo. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
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
