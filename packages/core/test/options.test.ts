import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_DURATION_BUCKETS, RoutemeterOptionError, type RoutemeterOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';

const invalid: ReadonlyArray<[option: string, value: unknown, message: RegExp]> = [
  ['registry', {}, /must be a prom-client Registry, got a object/],
  ['registry', 'global', /must be a prom-client Registry/],
  ['prefix', 'my-app_', /must be a string of letters, digits/],
  ['prefix', '1app_', /not starting with a digit/],
  ['prefix', 3, /got 3/],
  ['naming', 'otel2', /must be one of 'prometheus', 'otel', got "otel2"/],
  ['buckets', [], /must be a non-empty array of numbers, or \[\] with `nativeHistograms` on/],
  ['sizeBuckets', [], /must be a non-empty array of numbers, or \[\] with `nativeHistograms` on/],
  ['nativeHistograms', 'yes', /must be a boolean or \{ bucketFactor, sizeBucketFactor, maxBuckets/],
  ['nativeHistograms', { bucketfactor: 1.1 }, /has an unknown key 'bucketfactor'; did you mean `bucketFactor`\?/],
  ['nativeHistograms', { bucketFactor: 1 }, /\.bucketFactor must be a finite number above 1, got 1/],
  [
    'nativeHistograms',
    { sizeBucketFactor: Number.POSITIVE_INFINITY },
    /\.sizeBucketFactor must be a finite number above 1/,
  ],
  ['nativeHistograms', { maxBuckets: 0 }, /\.maxBuckets must be a positive integer, got 0/],
  ['nativeHistograms', { zeroThreshold: -1 }, /\.zeroThreshold must be a finite number >= 0, got -1/],
  ['nativeHistograms', { minResetInterval: '1h' }, /\.minResetInterval must be a positive number of milliseconds/],
  ['buckets', [0.1, 0.05], /must be strictly increasing, but 0.05 follows 0.1/],
  ['buckets', [0.1, 0.1], /must be strictly increasing/],
  ['buckets', [0.1, Number.POSITIVE_INFINITY], /must hold finite numbers, got Infinity at index 1/],
  ['buckets', ['0.1'], /must hold finite numbers, got "0.1" at index 0/],
  ['buckets', 0.1, /must be a non-empty array of numbers, got 0.1/],
  ['sizeBuckets', [100, 10], /must be strictly increasing/],
  ['requestsInFlight', 'yes', /must be a boolean, got "yes"/],
  ['requestSize', 1, /must be a boolean, got 1/],
  ['responseSize', null, /must be a boolean, got null/],
  ['normalizeRoute', '/x', /must be a function, got "\/x"/],
  ['maxRoutes', 0, /must be a positive integer, got 0/],
  ['maxRoutes', 1.5, /must be a positive integer, got 1.5/],
  ['maxRoutes', '10', /must be a positive integer, got "10"/],
  ['statusCode', 'range', /must be one of 'exact', 'class', got "range"/],
  ['exclude', '/health', /must be an array of paths and RegExps, or a function, got "\/health"/],
  ['exclude', ['/health', 3], /must hold only strings and RegExps, got 3/],
  ['labels', [], /must be an object of label name to getter function, got an array/],
  ['labels', { 'bad-name': () => 'x' }, /invalid label name 'bad-name'/],
  ['labels', { __reserved: () => 'x' }, /invalid label name '__reserved'/],
  ['labels', { le: () => 'x' }, /invalid label name 'le'/],
  ['labels', { tenant: 'acme' }, /\.tenant must be a function, got "acme"/],
  ['labels', { route: () => 'x' }, /has a label 'route', which routemeter sets itself/],
  ['defaultMetrics', 'false', /must be a boolean/],
  ['metricsPath', 'metrics', /must be a path starting with '\/'/],
  ['metricsPath', '/metrics?x', /no query, fragment or spaces/],
  ['metricsPath', true, /or false, got true/],
  ['metricsPath', '/metrics/', /must not end with '\/', got "\/metrics\/": use "\/metrics"/],
  ['recordScrapes', 0, /must be a boolean/],
  ['logger', console.warn, /must be an object with a warn\(message\) method, got a function/],
  ['logger', {}, /must be an object with a warn\(message\) method/],
];

/** Values of every JavaScript kind; each option accepts only some kinds, and every other must be rejected. */
const KINDS = {
  null: null,
  number: 3,
  string: 'x',
  boolean: true,
  array: ['x'],
  object: { x: 1 },
  function: () => true,
} as const;
type Kind = keyof typeof KINDS;

const ACCEPTED_KINDS: Readonly<Record<keyof RoutemeterOptions, readonly Kind[]>> = {
  registry: [],
  prefix: ['string'],
  naming: [],
  buckets: [],
  sizeBuckets: [],
  requestsInFlight: ['boolean'],
  requestSize: ['boolean'],
  responseSize: ['boolean'],
  normalizeRoute: ['function'],
  maxRoutes: ['number'],
  statusCode: [],
  exclude: ['array', 'function'],
  labels: [],
  defaultMetrics: ['boolean'],
  metricsPath: [],
  exemplars: ['boolean', 'function'],
  auth: ['function'],
  recordScrapes: ['boolean'],
  nativeHistograms: ['boolean', 'object'],
  logger: [],
};

const wrongKinds = Object.entries(ACCEPTED_KINDS).flatMap(([option, accepted]) =>
  (Object.keys(KINDS) as Kind[]).filter((kind) => !accepted.includes(kind)).map((kind) => [option, kind] as const),
);

describe('options are validated once, at creation', () => {
  it.each(wrongKinds)('rejects %s given a %s, naming the option', (option, kind) => {
    expect(() => resolveOptions({ [option]: KINDS[kind] } as RoutemeterOptions)).toThrow(
      new RegExp(`^routemeter: option \`${option}\` `),
    );
  });

  it.each(invalid)('rejects %s = %j, naming the option', (option, value, message) => {
    const attempt = () => resolveOptions({ [option]: value } as RoutemeterOptions);
    expect(attempt).toThrow(RoutemeterOptionError);
    expect(attempt).toThrow(new RegExp(`^routemeter: option \`${option}\` `));
    expect(attempt).toThrow(message);
  });

  it('rejects an OpenTelemetry-named label clashing with its own labels under naming: otel', () => {
    expect(() => resolveOptions({ naming: 'otel', labels: { http_route: () => 'x' } })).toThrow(
      /option `labels` has a label 'http_route'/,
    );
  });

  it.each([
    ['bucket', 'buckets'],
    ['metricPath', 'metricsPath'],
    ['maxroutes', 'maxRoutes'],
    ['statuscode', 'statusCode'],
    ['registery', 'registry'],
  ])('suggests the nearest option for a misspelt %s', (typo, suggestion) => {
    expect(() => resolveOptions({ [typo]: 1 } as RoutemeterOptions)).toThrow(
      `routemeter: option \`${typo}\` is not an option; did you mean \`${suggestion}\`?`,
    );
  });

  it('rejects an unknown option with no close name without a suggestion', () => {
    expect(() => resolveOptions({ colour: 'blue' } as RoutemeterOptions)).toThrow(
      /^routemeter: option `colour` is not an option$/,
    );
  });

  it.each([null, 'options', 3, []])('rejects options that are not an object: %j', (options) => {
    expect(() => resolveOptions(options as RoutemeterOptions)).toThrow(
      /^routemeter: option `options` must be an object/,
    );
  });

  it('applies the documented defaults', () => {
    const resolved = resolveOptions(undefined);
    expect(resolved).toMatchObject({
      prefix: '',
      naming: 'prometheus',
      buckets: [...DEFAULT_DURATION_BUCKETS],
      requestsInFlight: false,
      requestSize: false,
      responseSize: false,
      normalizeRoute: undefined,
      maxRoutes: 1000,
      statusCode: 'exact',
      exclude: undefined,
      labels: [],
      defaultMetrics: true,
      metricsPath: '/metrics',
      recordScrapes: false,
      nativeHistograms: undefined,
    });
  });

  it('resolves nativeHistograms: true to client_golang defaults (schema 3 from factor 1.1), sizes alike', () => {
    const settings = { schema: 3, maxBuckets: 160, zeroThreshold: 2 ** -128, minResetInterval: undefined };
    expect(resolveOptions({ nativeHistograms: true }).nativeHistograms).toEqual({
      duration: settings,
      size: settings,
    });
    expect(resolveOptions({ nativeHistograms: false }).nativeHistograms).toBeUndefined();
  });

  it.each([
    [1.0001, 8],
    [1.1, 3],
    [2, 0],
    [4, -1],
    [2 ** 16, -4],
    [1e300, -4],
  ])('derives the schema from bucketFactor %d: %d, clamped to -4 … 8', (bucketFactor, schema) => {
    const resolved = resolveOptions({ nativeHistograms: { bucketFactor, sizeBucketFactor: 2, maxBuckets: 20 } });
    expect(resolved.nativeHistograms?.duration.schema).toBe(schema);
    expect(resolved.nativeHistograms?.size).toMatchObject({ schema: 0, maxBuckets: 20 });
  });

  it('accepts buckets: [] and sizeBuckets: [] with nativeHistograms (native only)', () => {
    const resolved = resolveOptions({
      buckets: [],
      sizeBuckets: [],
      nativeHistograms: { minResetInterval: 3_600_000 },
    });
    expect(resolved.buckets).toEqual([]);
    expect(resolved.nativeHistograms?.duration.minResetInterval).toBe(3_600_000);
  });

  it('warns through console by default', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    resolveOptions(undefined).logger.warn('routemeter: hello');
    expect(warn).toHaveBeenCalledWith('routemeter: hello');
    warn.mockRestore();
  });

  it('treats an option set to undefined as not given', () => {
    expect(resolveOptions({ prefix: undefined, registry: undefined }).prefix).toBe('');
  });

  it('compiles exclude into one path test: exact strings, RegExps, or a predicate on the request', () => {
    const byPath = resolveOptions({ exclude: ['/health', /^\/static\//] }).exclude;
    expect([byPath?.('/health', {}), byPath?.('/static/app.js', {}), byPath?.('/health/deep', {})]).toEqual([
      true,
      true,
      false,
    ]);
    const byRequest = resolveOptions<{ internal: boolean }, unknown>({ exclude: (req) => req.internal }).exclude;
    expect([byRequest?.('/x', { internal: true }), byRequest?.('/x', { internal: false })]).toEqual([true, false]);
    // A request recorded bare (no request object to ask) is judged by its path alone.
    expect(byRequest?.('/x', undefined)).toBe(false);
  });

  it('excludes a path and its trailing-slash twin alike, and RegExps the same way every time', () => {
    const exclude = resolveOptions({ exclude: ['/health/', /^\/ready$/gy] }).exclude;
    const paths = ['/health', '/health/', '/health//', '/ready', '/ready', '/ready/', '/health/x', '/'];
    expect(paths.map((path) => exclude?.(path, {}))).toEqual([true, true, true, true, true, true, false, false]);
  });

  it('keeps a given registry and copies the bucket arrays it was given', () => {
    const registry = new Registry();
    const buckets = [0.1, 1];
    const resolved = resolveOptions({ registry, buckets });
    buckets.push(10);
    expect(resolved.registry).toBe(registry);
    expect(resolved.buckets).toEqual([0.1, 1]);
  });
});
