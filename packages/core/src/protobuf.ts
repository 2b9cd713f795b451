import type { NativeBuckets } from './native-histogram.js';
import type { AnyRegistry } from './options.js';
import { chunksOf } from './series-chunks.js';
import {
  type Exemplar,
  type HistogramSeries,
  type HistogramStore,
  isStore,
  type Labels,
  type ValueSeries,
  type ValueStore,
} from './store.js';
import { validExemplar } from './store-text.js';
import { TurnBudget } from './turn-budget.js';

/**
 * The Prometheus protobuf exposition format: each metric family an `io.prometheus.client.MetricFamily`
 * message (client_model's metrics.proto, proto2) after its varint length. It is the only format that
 * carries native histograms to Prometheus 2.x, and Prometheus asks for it first when they are on.
 *
 * Our own encoder rather than protobufjs or @bufbuild/protobuf: the few messages of metrics.proto take a
 * small writer, the core package keeps no runtime dependency but prom-client, and, like the text
 * rendering, each series' encoded `Metric` is cached while the series is unchanged, which a generic
 * library's object-to-message encoding cannot do. protobuf.test.ts decodes the output with protobufjs
 * from the schema, field by field, and re-encodes it to the same bytes.
 */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

/** metrics.proto's field numbers, by message. */
const FAMILY = { name: 1, help: 2, type: 3, metric: 4 } as const;
const METRIC = { label: 1, gauge: 2, counter: 3, summary: 4, untyped: 5, histogram: 7 } as const;
const LABEL = { name: 1, value: 2 } as const;
const HISTOGRAM = {
  sampleCount: 1,
  sampleSum: 2,
  bucket: 3,
  schema: 5,
  zeroThreshold: 6,
  zeroCount: 7,
  positiveSpan: 12,
  positiveDelta: 13,
} as const;
const BUCKET = { cumulativeCount: 1, upperBound: 2, exemplar: 3 } as const;
const SPAN = { offset: 1, length: 2 } as const;
const EXEMPLAR = { label: 1, value: 2, timestamp: 3 } as const;
const TIMESTAMP = { seconds: 1, nanos: 2 } as const;
const SUMMARY = { sampleCount: 1, sampleSum: 2, quantile: 3 } as const;
const QUANTILE = { quantile: 1, value: 2 } as const;
const TYPES: Readonly<Record<string, number>> = { counter: 0, gauge: 1, summary: 2, untyped: 3, histogram: 4 };

/**
 * Writes protobuf fields into one growing buffer, reused from message to message (encoding is
 * synchronous). A nested message reserves one byte for its length and moves its bytes along if the
 * length needs more, so no message is encoded twice or copied into its parent.
 */
class Writer {
  buffer = Buffer.allocUnsafe(64 * 1024);
  length = 0;
  /** Where each open message's length goes, innermost last; a typed array, so resets do not shed it. */
  private starts = new Uint32Array(8);
  private depth = 0;

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** A non-negative integer up to 2^53, as a base-128 varint. */
  varint(value: number): void {
    this.room(10);
    const buffer = this.buffer;
    let rest = value;
    while (rest >= 0x80) {
      buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    buffer[this.length++] = rest;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** uint64, uint32 and enums, and int64 or int32 fields of non-negative values: a plain varint. */
  uint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** sint32 and sint64: zigzag, so that small negative numbers stay short. */
  sint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.room(8);
    this.buffer.writeDoubleLE(value, this.length);
    this.length += 8;
  }

  string(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const bytes = Buffer.byteLength(value);
    this.varint(bytes);
    this.room(bytes);
    this.buffer.write(value, this.length, 'utf8');
    this.length += bytes;
  }

  /** Starts an embedded message in `field`; ended by {@link end}. */
  begin(field: number): void {
    this.tag(field, LENGTH_DELIMITED);
    this.room(1);
    if (this.depth === this.starts.length) {
      const deeper = new Uint32Array(2 * this.depth);
      deeper.set(this.starts);
      this.starts = deeper;
    }
    this.starts[this.depth++] = this.length;
    this.length += 1;
  }

  end(): void {
    const start = this.starts[--this.depth] as number;
    const size = this.length - start - 1;
    let extra = 0;
    for (let rest = size >>> 7; rest > 0; rest >>>= 7) extra++;
    if (extra > 0) {
      this.room(extra);
      this.buffer.copyWithin(start + 1 + extra, start + 1, this.length);
      this.length += extra;
    }
    let at = start;
    let rest = size;
    while (rest >= 0x80) {
      this.buffer[at++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[at] = rest;
  }

  /** Forgets anything half-written (by an encoding that threw). */
  reset(): void {
    this.length = 0;
    this.depth = 0;
  }

  /** What was written, not copied, so valid only until the next write; the writer is emptied. */
  written(): Uint8Array {
    const written = this.buffer.subarray(0, this.length);
    this.length = 0;
    return written;
  }

  /** What was written, as bytes of its own; the writer is emptied. */
  take(): Buffer {
    const taken = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    return taken;
  }
}

const writer = new Writer();

function labelPairs(w: Writer, field: number, labels: Readonly<Record<string, unknown>>): void {
  for (const name in labels) {
    const value = labels[name];
    if (value === undefined) continue;
    w.begin(field);
    w.string(LABEL.name, name);
    w.string(LABEL.value, String(value));
    w.end();
  }
}

/** A series' `Metric.label` fields: its own labels, then the registry's defaults it does not set itself. */
function metricLabels(w: Writer, series: ValueSeries | HistogramSeries, defaults: Labels) {
  labelPairs(w, METRIC.label, series.labels);
  labelPairs(w, METRIC.label, defaults);
}

function exemplarMessage(w: Writer, field: number, exemplar: Exemplar | undefined): void {
  if (exemplar === undefined || !validExemplar(exemplar)) return;
  w.begin(field);
  labelPairs(w, EXEMPLAR.label, exemplar.labels);
  w.double(EXEMPLAR.value, exemplar.value);
  const seconds = Math.floor(exemplar.timestamp);
  w.begin(EXEMPLAR.timestamp);
  w.uint(TIMESTAMP.seconds, seconds);
  const nanos = Math.round((exemplar.timestamp - seconds) * 1e9);
  if (nanos > 0) w.uint(TIMESTAMP.nanos, Math.min(nanos, 999_999_999));
  w.end();
  w.end();
}

/** Spans of consecutive populated buckets and their counts as deltas, as metrics.proto lays them out. */
function nativeBuckets(w: Writer, native: NativeBuckets): void {
  w.sint(HISTOGRAM.schema, native.schema);
  w.double(HISTOGRAM.zeroThreshold, native.settings.zeroThreshold);
  w.uint(HISTOGRAM.zeroCount, native.zeroCount);
  const counts = native.counts;
  // Only the populated part of the window is walked, twice: spans, then deltas (the order of their numbers).
  let lowest = 0;
  let highest = counts.length;
  if (native.populated === 0) highest = 0;
  else {
    while ((counts[lowest] as number) === 0) lowest++;
    while ((counts[highest - 1] as number) === 0) highest--;
  }
  let previousEnd: number | undefined;
  let spans = 0;
  for (let slot = lowest; slot < highest; ) {
    if ((counts[slot] as number) === 0) {
      slot++;
      continue;
    }
    let end = slot;
    while (end < highest && (counts[end] as number) > 0) end++;
    const index = native.first + slot;
    w.begin(HISTOGRAM.positiveSpan);
    w.sint(SPAN.offset, previousEnd === undefined ? index : index - previousEnd);
    w.uint(SPAN.length, end - slot);
    w.end();
    spans++;
    previousEnd = native.first + end;
    slot = end;
  }
  if (spans === 0 && native.zeroCount === 0 && native.settings.zeroThreshold === 0) {
    // An empty span: what tells Prometheus a histogram with nothing in it is native (as client_golang does).
    w.begin(HISTOGRAM.positiveSpan);
    w.sint(SPAN.offset, 0);
    w.uint(SPAN.length, 0);
    w.end();
  }
  let previous = 0;
  for (let slot = lowest; slot < highest; slot++) {
    const count = counts[slot] as number;
    if (count === 0) continue;
    w.sint(HISTOGRAM.positiveDelta, count - previous);
    previous = count;
  }
}

/** One routemeter histogram series as a `Metric`: classic buckets (with exemplars) and native buckets. */
function histogramMetric(w: Writer, store: HistogramStore, series: HistogramSeries, defaults: Labels): void {
  w.begin(FAMILY.metric);
  metricLabels(w, series, defaults);
  w.begin(METRIC.histogram);
  w.uint(HISTOGRAM.sampleCount, series.count);
  w.double(HISTOGRAM.sampleSum, series.sum);
  const bounds = store.upperBounds;
  const exemplars = series.exemplars;
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += series.counts[i] as number;
    w.begin(HISTOGRAM.bucket);
    w.uint(BUCKET.cumulativeCount, cumulative);
    w.double(BUCKET.upperBound, bounds[i] as number);
    exemplarMessage(w, BUCKET.exemplar, exemplars?.[i]);
    w.end();
  }
  // +Inf is implied by the count; written only to carry its exemplar (as client_golang does).
  const last = exemplars?.[bounds.length];
  if (last !== undefined && validExemplar(last)) {
    w.begin(HISTOGRAM.bucket);
    w.uint(BUCKET.cumulativeCount, series.count);
    w.double(BUCKET.upperBound, Number.POSITIVE_INFINITY);
    exemplarMessage(w, BUCKET.exemplar, last);
    w.end();
  }
  if (series.native !== undefined) nativeBuckets(w, series.native);
  w.end();
  w.end();
}

function valueMetric(w: Writer, store: ValueStore, series: ValueSeries, defaults: Labels): void {
  w.begin(FAMILY.metric);
  metricLabels(w, series, defaults);
  if (store.type === 'counter') {
    w.begin(METRIC.counter);
    w.double(1, series.value);
    exemplarMessage(w, 2, series.exemplar);
  } else {
    w.begin(METRIC.gauge);
    w.double(1, series.value);
  }
  w.end();
  w.end();
}

/** A family's name, help and type, after the varint length of the whole family. */
function familyHead(name: string, help: string, type: string, metricsLength: number): Buffer {
  writer.string(FAMILY.name, name);
  writer.string(FAMILY.help, help);
  writer.uint(FAMILY.type, TYPES[type] ?? (TYPES.untyped as number));
  const head = writer.take();
  writer.varint(head.length + metricsLength);
  const length = writer.take();
  return Buffer.concat([length, head]);
}

async function storeFamily(
  store: ValueStore | HistogramStore,
  defaultLabels: Readonly<Record<string, unknown>>,
  turn: TurnBudget,
): Promise<Buffer[]> {
  const defaults = defaultsFor(store.labelNames, defaultLabels);
  // Each store's `Metric` fields are kept between scrapes in chunks of consecutive series, as its text is.
  const pieces = await chunksOf(store, 'protobuf').render(
    store.series.values(),
    `${JSON.stringify(defaults)}\u0000${store.generation}`,
    function writeMetric(series, out) {
      writer.reset();
      if (store.type === 'histogram') {
        histogramMetric(writer, store as HistogramStore, series as HistogramSeries, defaults);
      } else valueMetric(writer, store as ValueStore, series as ValueSeries, defaults);
      out.bytes(writer.written());
    },
    turn,
  );
  if (pieces.length === 0) return [];
  const length = pieces.reduce((total, piece) => total + piece.length, 0);
  return [familyHead(store.name, store.help, store.type, length), ...pieces];
}

/** The registry's default labels a metric does not set itself (its own value wins, as in the text). */
function defaultsFor(labelNames: readonly string[], defaultLabels: Readonly<Record<string, unknown>>): Labels {
  const defaults: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaultLabels)) {
    if (!labelNames.includes(name)) defaults[name] = String(value);
  }
  return defaults;
}

/** What prom-client's `get()` gives (its type declarations do not export it). */
interface ClientMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: readonly {
    readonly labels: Readonly<Record<string, string | number>>;
    readonly value: number;
    readonly metricName?: string;
  }[];
}

/** A prom-client metric (or anything registered like one), from its public `get()`. */
function clientFamily(metric: ClientMetric, defaultLabels: Readonly<Record<string, unknown>>): Buffer[] {
  const { name, help, type } = metric;
  writer.reset();
  const withDefaults = (labels: Readonly<Record<string, unknown>>) => {
    const all: Record<string, unknown> = { ...labels };
    for (const [label, value] of Object.entries(defaultLabels)) all[label] ??= value;
    return all;
  };
  if (type === 'histogram' || type === 'summary') {
    // Samples of one series share their labels but `le` or `quantile`: grouped back into series.
    const series = new Map<
      string,
      { labels: Record<string, unknown>; count: number; sum: number; points: [number, number][] }
    >();
    for (const sample of metric.values) {
      const { le, quantile, ...labels } = sample.labels as Record<string, unknown>;
      const key = JSON.stringify(labels);
      let entry = series.get(key);
      if (entry === undefined) {
        entry = { labels: withDefaults(labels), count: 0, sum: 0, points: [] };
        series.set(key, entry);
      }
      const sampleName = sample.metricName;
      if (sampleName === `${name}_sum`) entry.sum = sample.value;
      else if (sampleName === `${name}_count`) entry.count = sample.value;
      else if (type === 'histogram' && le !== undefined && le !== '+Inf') entry.points.push([Number(le), sample.value]);
      else if (type === 'summary' && quantile !== undefined) entry.points.push([Number(quantile), sample.value]);
    }
    for (const { labels, count, sum, points } of series.values()) {
      writer.begin(FAMILY.metric);
      labelPairs(writer, METRIC.label, labels);
      if (type === 'histogram') {
        writer.begin(METRIC.histogram);
        writer.uint(HISTOGRAM.sampleCount, count);
        writer.double(HISTOGRAM.sampleSum, sum);
        for (const [bound, cumulative] of points) {
          writer.begin(HISTOGRAM.bucket);
          writer.uint(BUCKET.cumulativeCount, cumulative);
          writer.double(BUCKET.upperBound, bound);
          writer.end();
        }
      } else {
        writer.begin(METRIC.summary);
        writer.uint(SUMMARY.sampleCount, count);
        writer.double(SUMMARY.sampleSum, sum);
        for (const [quantile, value] of points) {
          writer.begin(SUMMARY.quantile);
          writer.double(QUANTILE.quantile, quantile);
          writer.double(QUANTILE.value, value);
          writer.end();
        }
      }
      writer.end();
      writer.end();
    }
  } else {
    const field = type === 'counter' ? METRIC.counter : type === 'gauge' ? METRIC.gauge : METRIC.untyped;
    for (const sample of metric.values) {
      writer.begin(FAMILY.metric);
      labelPairs(writer, METRIC.label, withDefaults(sample.labels));
      writer.begin(field);
      writer.double(1, sample.value);
      writer.end();
      writer.end();
    }
  }
  if (writer.length === 0) return [];
  const metrics = writer.take();
  return [familyHead(name, help, type, metrics.length), metrics];
}

/**
 * Every metric of the registry as delimited `MetricFamily` messages, in pieces to write in order.
 * prom-client's metrics are read through `get()` (all at once, as they may wait on an async collect);
 * routemeter's stores one after another on one budget per turn of the event loop, as for text.
 */
export async function renderProtobufPieces(registry: AnyRegistry): Promise<Buffer[]> {
  const defaultLabels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels ?? {};
  const turn = new TurnBudget();
  let storesRendered: Promise<unknown> = Promise.resolve();
  const families = await Promise.all(
    registry.getMetricsAsArray().map((metric) => {
      if (!isStore(metric)) {
        return Promise.resolve((metric as unknown as { get(): unknown }).get()).then((got) =>
          clientFamily(got as ClientMetric, defaultLabels),
        );
      }
      const family = storesRendered.then(() => storeFamily(metric, defaultLabels, turn));
      storesRendered = family;
      return family;
    }),
  );
  return families.flat();
}
