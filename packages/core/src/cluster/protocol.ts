/**
 * What the primary and its workers say to each other over the cluster IPC channel. The primary asks; each
 * worker answers with its metric families, every value as a number in a flat array (a 6,000-series
 * histogram is a few hundred kilobytes of JSON, not prom-client's ten megabytes of sample objects).
 * The `/1` is the wire version: a worker of another version never sees a request it does not understand.
 */

export const REQUEST = 'routemeter:cluster-request/1';
export const ANSWER = 'routemeter:cluster-answer/1';

export interface Request {
  readonly type: typeof REQUEST;
  readonly id: number;
}

/** One answer to every request that arrived while the worker was collecting (`ids`). */
export interface Answer {
  readonly type: typeof ANSWER;
  readonly ids: readonly number[];
  readonly families?: readonly WireFamily[];
  readonly error?: string;
}

/** Label values as prom-client holds them. */
export type WireLabels = Readonly<Record<string, string | number>>;

/**
 * A routemeter store: each series' label values in `labelNames` order (the worker's default labels
 * appended); `values` holds one number per series, or for a histogram `bounds.length + 3`: the
 * count in each bucket (not cumulative, the last one above every bound), then sum and count.
 */
export interface StoreFamily {
  readonly kind: 'store';
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labelNames: readonly string[];
  readonly bounds: readonly number[];
  readonly labels: readonly (readonly string[])[];
  readonly values: readonly number[];
}

/** A prom-client counter, gauge or histogram: as a store, with each series' labels as an object. */
export interface MetricFamily {
  readonly kind: 'metric';
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: string;
  readonly bounds: readonly number[];
  readonly labels: readonly WireLabels[];
  readonly values: readonly number[];
}

/** One sample as prom-client's `get()` gives it. */
export interface WireSample {
  readonly metricName?: string;
  readonly labels: WireLabels;
  readonly value: number;
}

/** Anything that cannot be added up (a summary's quantiles, an unknown type): its samples, served per worker. */
export interface SampleFamily {
  readonly kind: 'samples';
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: readonly WireSample[];
}

export type WireFamily = StoreFamily | MetricFamily | SampleFamily;

/** Values per series: one, or a histogram's buckets (one above the last bound), sum and count. */
export function strideOf(family: { readonly type: string; readonly bounds: readonly number[] }): number {
  return family.type === 'histogram' ? family.bounds.length + 3 : 1;
}

export function isRequest(message: unknown): message is Request {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as Request).type === REQUEST &&
    Number.isSafeInteger((message as Request).id)
  );
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

/**
 * Whether a message from a worker is an answer the primary can use as it is. The primary trusts nothing it
 * has not checked here: a worker running another version, or a message of the app's that happens to look
 * like ours, must not be able to throw in the primary's message handler.
 */
export function isAnswer(message: unknown): message is Answer {
  if (!isObject(message) || message.type !== ANSWER) return false;
  if (!isArrayOf(message.ids, isId) || message.ids.length === 0) return false;
  if (message.error !== undefined) return isString(message.error);
  return isArrayOf(message.families, isFamily);
}

function isFamily(value: unknown): value is WireFamily {
  if (!isObject(value) || !isString(value.name) || !isString(value.help) || !isString(value.type)) return false;
  if (value.kind === 'samples') {
    return isArrayOf(
      value.samples,
      (s): s is WireSample =>
        isObject(s) &&
        isNumber(s.value) &&
        isLabels(s.labels) &&
        (s.metricName === undefined || isString(s.metricName)),
    );
  }
  if (value.kind !== 'store' && value.kind !== 'metric') return false;
  if (value.type !== 'counter' && value.type !== 'gauge' && value.type !== 'histogram') return false;
  if (!isArrayOf(value.bounds, isNumber) || !Array.isArray(value.labels) || !isArrayOf(value.values, isNumber)) {
    return false;
  }
  if (value.values.length !== value.labels.length * strideOf(value as { type: string; bounds: number[] })) return false;
  if (value.kind === 'metric') return isString(value.aggregator) && value.labels.every(isLabels);
  const labelNames = value.labelNames;
  return (
    isArrayOf(labelNames, isString) &&
    value.labels.every((labels) => isArrayOf(labels, isString) && labels.length === labelNames.length)
  );
}
