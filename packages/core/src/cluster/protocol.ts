/**
 * What the primary and its workers say to each other over the cluster IPC channel. The primary asks; each
 * worker answers with its metric families, every value as a number in a flat array (a 6,000-series
 * histogram is a few hundred kilobytes of JSON, not prom-client's ten megabytes of sample objects).
 * A routemeter store is sent as what changed since the worker's answer the primary says it has (`basis`):
 * label values only for the series that were not in the same place in it, values only for the series that
 * changed. In the steady state an answer is the few series that saw requests since the last scrape.
 * The `/1` is the wire version: a worker of another version never sees a request it does not understand.
 */

export const REQUEST = 'routemeter:cluster-request/1';
export const ANSWER = 'routemeter:cluster-answer/1';

export interface Request {
  readonly type: typeof REQUEST;
  readonly id: number;
  /** The newest request of this worker's answer that the asking primary has recorded, if any. */
  readonly basis?: number;
}

/**
 * A number as sent: JSON has no NaN or ±Infinity (prom-client's event-loop gauges are NaN at first), so a worker
 * sends those as strings, and {@link readAnswer} turns them back into numbers before the primary uses any.
 */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export function toWire(value: number): WireNumber {
  return Number.isFinite(value) ? value : (String(value) as WireNumber);
}

/** One answer to every request that arrived while the worker was collecting (`ids`). */
export interface Answer<N = number> {
  readonly type: typeof ANSWER;
  readonly ids: readonly number[];
  /** Set when some store leaves out labels or values: they are those of the answer to `basis`. */
  readonly basis?: number;
  readonly families?: readonly WireFamily<N>[];
  readonly error?: string;
}

/** Label values as prom-client holds them. */
export type WireLabels = Readonly<Record<string, string | number>>;

/**
 * A routemeter store of `series` series: the label values of each one from `labelsFrom` on, in `labelNames`
 * order (the worker's default labels appended), those before being the first series of the answer to
 * `basis`. `values` holds, for each series in `changed` (all of them when it is absent; the others have
 * their values of the answer to `basis`), one number, or for a histogram `bounds.length + 3`: the count in
 * each bucket (not cumulative, the last one above every bound), then sum and count.
 */
export interface StoreFamily<N = number> {
  readonly kind: 'store';
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labelNames: readonly string[];
  readonly bounds: readonly number[];
  readonly series: number;
  readonly labelsFrom: number;
  readonly labels: readonly (readonly string[])[];
  readonly changed?: readonly number[];
  readonly values: readonly N[];
  /** A histogram's native bucket settings, if it has native buckets. */
  readonly native?: WireNativeSettings;
  /**
   * With `native`: for each series in `values`, its native buckets as `[schema, zero count, first bucket
   * index, ...counts of the buckets from there]` (the populated range only).
   */
  readonly natives?: readonly (readonly number[])[];
}

export interface WireNativeSettings {
  readonly schema: number;
  readonly maxBuckets: number;
  readonly zeroThreshold: number;
}

/** A prom-client counter, gauge or histogram: as a store, with each series' labels as an object. */
export interface MetricFamily<N = number> {
  readonly kind: 'metric';
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: string;
  readonly bounds: readonly number[];
  readonly labels: readonly WireLabels[];
  readonly values: readonly N[];
}

/** One sample as prom-client's `get()` gives it. */
export interface WireSample<N = number> {
  readonly metricName?: string;
  readonly labels: WireLabels;
  readonly value: N;
}

/** Anything that cannot be added up (a summary's quantiles, an unknown type): its samples, served per worker. */
export interface SampleFamily<N = number> {
  readonly kind: 'samples';
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: readonly WireSample<N>[];
}

export type WireFamily<N = number> = StoreFamily<N> | MetricFamily<N> | SampleFamily<N>;

/** Values per series: one, or a histogram's buckets (one above the last bound), sum and count. */
export function strideOf(family: { readonly type: string; readonly bounds: readonly number[] }): number {
  return family.type === 'histogram' ? family.bounds.length + 3 : 1;
}

export function isRequest(message: unknown): message is Request {
  if (typeof message !== 'object' || message === null) return false;
  const { type, id, basis } = message as Request;
  return type === REQUEST && Number.isSafeInteger(id) && (basis === undefined || Number.isSafeInteger(basis));
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isId = (value: unknown): value is number => Number.isSafeInteger(value);
const isNumber = (value: unknown): value is number => typeof value === 'number';
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isLabels = (value: unknown): value is WireLabels =>
  isObject(value) && Object.values(value).every((v) => isString(v) || isNumber(v));
const isArrayOf = <T>(value: unknown, check: (item: unknown) => item is T): value is T[] =>
  Array.isArray(value) && value.every(check);

const NON_FINITE = new Map<unknown, number>([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
]);

/** A sent number as a number, or undefined if it is neither a number nor one of {@link WireNumber}'s strings. */
const readNumber = (value: unknown): number | undefined => (typeof value === 'number' ? value : NON_FINITE.get(value));

/** Reads sent numbers in place; false if one is not a number. */
function readNumbers(values: unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const number = readNumber(values[i]);
    if (number === undefined) return false;
    values[i] = number;
  }
  return true;
}

/**
 * A message from a worker as an answer the primary can use, or undefined. The primary trusts nothing it has not
 * checked here: a worker running another version, or a message of the app's that happens to look like ours,
 * must not be able to throw in the primary's message handler. Sent numbers are read in place (the message
 * is the primary's own copy, fresh from the IPC channel).
 */
export function readAnswer(message: unknown): Answer | undefined {
  if (!isObject(message) || message.type !== ANSWER) return undefined;
  if (!isArrayOf(message.ids, isId) || message.ids.length === 0) return undefined;
  if (message.basis !== undefined && !isId(message.basis)) return undefined;
  if (message.error !== undefined) return isString(message.error) ? (message as unknown as Answer) : undefined;
  const partialAllowed = message.basis !== undefined;
  return Array.isArray(message.families) && message.families.every((family) => readFamily(family, partialAllowed))
    ? (message as unknown as Answer)
    : undefined;
}

function readFamily(value: unknown, partialAllowed: boolean): boolean {
  if (!isObject(value) || !isString(value.name) || !isString(value.help) || !isString(value.type)) return false;
  if (value.kind === 'samples') {
    return (
      Array.isArray(value.samples) &&
      value.samples.every((sample: unknown) => {
        if (!isObject(sample) || !isLabels(sample.labels)) return false;
        if (sample.metricName !== undefined && !isString(sample.metricName)) return false;
        const number = readNumber(sample.value);
        if (number === undefined) return false;
        sample.value = number;
        return true;
      })
    );
  }
  if (value.kind !== 'store' && value.kind !== 'metric') return false;
  if (value.type !== 'counter' && value.type !== 'gauge' && value.type !== 'histogram') return false;
  const { bounds, labels, values } = value;
  if (!isArrayOf(bounds, isNumber) || !Array.isArray(labels) || !Array.isArray(values)) return false;
  const stride = strideOf({ type: value.type, bounds });
  if (value.kind === 'metric') {
    return (
      values.length === labels.length * stride &&
      readNumbers(values) &&
      isString(value.aggregator) &&
      labels.every(isLabels)
    );
  }
  const { series, labelsFrom, changed, labelNames } = value;
  if (!isId(series) || !isId(labelsFrom) || labelsFrom < 0 || labels.length !== series - labelsFrom) return false;
  if (changed !== undefined && !isIndexes(changed, series)) return false;
  if ((labelsFrom > 0 || changed !== undefined) && !partialAllowed) return false;
  const described = (changed as unknown[] | undefined)?.length ?? series;
  if (values.length !== described * stride || !readNumbers(values)) return false;
  if (!readNatives(value.native, value.natives, value.type, described)) return false;
  return (
    isArrayOf(labelNames, isString) &&
    labels.every((row: unknown) => isArrayOf(row, isString) && row.length === labelNames.length)
  );
}

/** Most native buckets a worker may send for one series: far more than any window holds. */
const MAX_WIRE_BUCKETS = 1 << 16;

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** Native settings and buckets, both absent or both well-formed, one set of buckets per described series. */
function readNatives(native: unknown, natives: unknown, type: unknown, described: number): boolean {
  if (native === undefined) return natives === undefined;
  if (type !== 'histogram' || !isObject(native) || !Array.isArray(natives) || natives.length !== described) {
    return false;
  }
  const { schema, maxBuckets, zeroThreshold } = native;
  if (!isSchema(schema) || !isId(maxBuckets) || !isCount(zeroThreshold)) return false;
  return natives.every(
    (buckets: unknown) =>
      Array.isArray(buckets) &&
      buckets.length >= 3 &&
      buckets.length <= MAX_WIRE_BUCKETS + 3 &&
      isSchema(buckets[0]) &&
      isCount(buckets[1]) &&
      Number.isSafeInteger(buckets[2]) &&
      Math.abs(buckets[2]) < 2 ** 30 &&
      buckets.every((count, i) => i < 3 || isCount(count)),
  );
}

const isSchema = (value: unknown): boolean =>
  Number.isInteger(value) && (value as number) >= -4 && (value as number) <= 8;

/** Series indexes in increasing order, each below `series`. */
function isIndexes(value: unknown, series: number): boolean {
  if (!Array.isArray(value)) return false;
  let previous = -1;
  for (const index of value) {
    if (!isId(index) || index <= previous || index >= series) return false;
    previous = index;
  }
  return true;
}
