import { type ChunkWriter, chunksOf } from './series-chunks.js';
import type { Exemplar, HistogramSeries, HistogramStore, Labels, ValueSeries, ValueStore } from './store.js';
import type { TurnBudget } from './turn-budget.js';

/**
 * Renders routemeter's stores byte for byte as prom-client's registry would, but fast: each series'
 * labels are escaped and encoded once, a series' text is reused while the series is unchanged (kept in
 * chunks of consecutive series: series-chunks.ts), and the output is the list of those chunks, not a
 * copy of them, built a few milliseconds per turn of the event loop ({@link TurnBudget}), so a scrape of
 * thousands of series neither takes prom-client's ~180 ms nor stalls the server for it. (The equivalence
 * with prom-client's rendering is a property test: store.test.ts.)
 */

const labelBytesOf = new WeakMap<Labels, Buffer>();

/** `name="value",…` for a series' labels, escaped as prom-client escapes them, as bytes; once per series. */
function labelBytes(labels: Labels): Buffer {
  let bytes = labelBytesOf.get(labels);
  if (bytes === undefined) {
    bytes = Buffer.from(formatLabels(labels));
    labelBytesOf.set(labels, bytes);
  }
  return bytes;
}

function formatLabels(labels: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) parts.push(`${name}="${escapeLabelValue(value)}"`);
  return parts.join(',');
}

function escapeLabelValue(value: unknown): unknown {
  return typeof value === 'string' ? escapeString(value).replace(/"/g, '\\"') : value;
}

function escapeString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${value}`;
}

const EXEMPLAR_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * ` # {trace_id="…"} 0.042 1764337200.123` after a sample, in OpenMetrics. An exemplar whose labels break
 * the format's rules (names, or more than 128 characters in all) is left out rather than failing the scrape.
 */
function exemplarText(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined || !validExemplar(exemplar)) return '';
  return ` # {${formatLabels(exemplar.labels)}} ${valueText(exemplar.value)} ${exemplar.timestamp}`;
}

/** Whether an exemplar's labels keep OpenMetrics' rules (Prometheus holds protobuf exemplars to them too). */
export function validExemplar(exemplar: Exemplar): boolean {
  let length = 0;
  for (const [name, value] of Object.entries(exemplar.labels)) {
    if (!EXEMPLAR_LABEL_NAME.test(name) || typeof value !== 'string') return false;
    length += [...name].length + [...value].length;
  }
  return length <= 128;
}

/**
 * One store's text, as `registry.getMetricsAsString(store)` gives it, in pieces (its header, then its
 * series' cached text in chunks): `name` is the store's name, or the OpenMetrics name of a counter (without
 * `_total`), in which case samples get `_total` back.
 */
export async function renderStore(
  store: ValueStore | HistogramStore,
  name: string,
  openMetrics: boolean,
  defaultLabels: Readonly<Record<string, unknown>>,
  turn: TurnBudget,
): Promise<Buffer[]> {
  const header = `# HELP ${escapeString(name)} ${escapeString(store.help)}\n# TYPE ${escapeString(name)} ${store.type}`;
  const defaults = Object.fromEntries(
    Object.entries(defaultLabels).filter(([label]) => !store.labelNames.includes(label)),
  );
  const defaultsText = formatLabels(defaults);
  const series = await chunksOf(store, openMetrics ? 'openmetrics' : 'text').render(
    store.series.values(),
    `${name}\u0000${defaultsText}\u0000${store.generation}`,
    seriesEncoder(store, name, openMetrics, defaultsText),
    turn,
  );
  return [Buffer.from(header), ...series];
}

/**
 * Writes a series' text (a newline before each of its lines) as bytes: what every series of the store
 * shares (sample names, `le`, the default labels) encoded once per rendering, the series' labels once per
 * series, and only the values each time. Built from strings, a first scrape of 6,000 label sets spent most
 * of its time joining, flattening and encoding them.
 */
function seriesEncoder(
  store: ValueStore | HistogramStore,
  name: string,
  openMetrics: boolean,
  defaultsText: string,
): (series: ValueSeries | HistogramSeries, out: ChunkWriter) => void {
  const withDefaults = defaultsText === '' ? '' : `${defaultsText},`;
  if (store.type === 'histogram') {
    const { upperBounds } = store as HistogramStore;
    const bounds = upperBounds.length;
    const buckets = [...upperBounds, '+Inf'].map((le) =>
      Buffer.from(`\n${store.name}_bucket{le="${le}",${withDefaults}`),
    );
    const sum = Buffer.from(`\n${store.name}_sum{${withDefaults}`);
    const count = Buffer.from(`\n${store.name}_count{${withDefaults}`);
    return function writeHistogram(one, out) {
      const series = one as HistogramSeries;
      const labels = labelBytes(series.labels);
      const exemplars = openMetrics ? series.exemplars : undefined;
      let cumulative = 0;
      for (let i = 0; i <= bounds; i++) {
        cumulative = i < bounds ? cumulative + (series.counts[i] as number) : series.count;
        out.bytes(buckets[i] as Buffer);
        out.bytes(labels);
        out.ascii(`} ${valueText(cumulative)}`);
        if (exemplars !== undefined) out.utf8(exemplarText(exemplars[i]));
      }
      out.bytes(sum);
      out.bytes(labels);
      out.ascii(`} ${valueText(series.sum)}`);
      out.bytes(count);
      out.bytes(labels);
      out.ascii(`} ${valueText(series.count)}`);
    };
  }
  const sample = Buffer.from(`\n${openMetrics && store.type === 'counter' ? `${name}_total` : name}{`);
  const defaults = Buffer.from(defaultsText === '' ? '' : `,${defaultsText}`);
  return function writeValue(one, out) {
    const series = one as ValueSeries;
    out.bytes(sample);
    out.bytes(labelBytes(series.labels));
    out.bytes(defaults);
    out.ascii(`} ${valueText(series.value)}`);
    if (openMetrics) out.utf8(exemplarText(series.exemplar));
  };
}
