import { type ChunkWriter, chunksOf } from './series-chunks.js';
import type { Exemplar, HistogramSeries, HistogramStore, Labels, ValueSeries, ValueStore } from './store.js';
import type { TurnBudget } from './turn-budget.js';

/**
 * Renders routemeter's stores byte for byte as prom-client's registry would, but fast: a series' text is
 * written as bytes, without intermediate strings, and reused while the series is unchanged (kept in
 * chunks of consecutive series: series-chunks.ts), and the output is the list of those chunks, not a
 * copy of them, built a few milliseconds per turn of the event loop ({@link TurnBudget}), so a scrape of
 * thousands of series neither takes prom-client's ~180 ms nor stalls the server for it. (The equivalence
 * with prom-client's rendering is a property test: store.test.ts.)
 */

/**
 * Writes a series' labels, `name="value",…`, escaped as prom-client escapes them, straight into its chunk:
 * the names' bytes are made once per rendering and only the values are encoded. (A store's series hold
 * their labels in the order of its label names.) Not cached per series: as a Buffer per labels object in a
 * WeakMap, the lookups were 20 ms of a first scrape of 12,000 series; as strings, 3.7 MB of garbage.
 */
function labelsWriter(labelNames: readonly string[]): (labels: Labels, out: ChunkWriter) => void {
  const names = labelNames.map((name, i) => Buffer.from(`${i === 0 ? '' : '",'}${name}="`));
  const end = Buffer.from(labelNames.length === 0 ? '' : '"');
  return function writeLabels(labels, out) {
    for (let i = 0; i < names.length; i++) {
      out.bytes(names[i] as Buffer);
      out.utf8(escapeLabelText(labels[labelNames[i] as string] as string));
    }
    out.bytes(end);
  };
}

function formatLabels(labels: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) parts.push(`${name}="${escapeLabelValue(value)}"`);
  return parts.join(',');
}

/** What a label value has escaped; most have none, and one test is cheaper than three replacements. */
const ESCAPED_IN_LABEL_VALUE = /[\\\n"]/;

function escapeLabelValue(value: unknown): unknown {
  return typeof value === 'string' ? escapeLabelText(value) : value;
}

function escapeLabelText(text: string): string {
  return ESCAPED_IN_LABEL_VALUE.test(text) ? escapeString(text).replace(/"/g, '\\"') : text;
}

function escapeString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const CLOSE = Buffer.from('} ');

/** A sample's value as prom-client writes it; counts, most values, digit by digit. */
function writeNumber(out: ChunkWriter, value: number): void {
  if (value >= 0 && Number.isSafeInteger(value)) out.digits(value);
  else out.ascii(valueText(value));
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
 * shares (sample names, `le`, the default labels) encoded once per rendering, then the series' labels,
 * once for all its lines, and its values. Built from strings, a first scrape of 6,000 label sets spent
 * most of its time joining, flattening and encoding them.
 */
function seriesEncoder(
  store: ValueStore | HistogramStore,
  name: string,
  openMetrics: boolean,
  defaultsText: string,
): (series: ValueSeries | HistogramSeries, out: ChunkWriter) => void {
  const withDefaults = defaultsText === '' ? '' : `${defaultsText},`;
  const writeLabels = labelsWriter(store.labelNames);
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
      const exemplars = openMetrics ? series.exemplars : undefined;
      // The labels, and the `} ` after them, are encoded on the first line and copied onto the others.
      out.bytes(buckets[0] as Buffer);
      const labelsStart = out.length;
      writeLabels(series.labels, out);
      out.bytes(CLOSE);
      const labelsEnd = out.length;
      let cumulative = 0;
      for (let i = 0; i <= bounds; i++) {
        cumulative = i < bounds ? cumulative + (series.counts[i] as number) : series.count;
        if (i > 0) {
          out.bytes(buckets[i] as Buffer);
          out.again(labelsStart, labelsEnd);
        }
        writeNumber(out, cumulative);
        if (exemplars !== undefined) out.utf8(exemplarText(exemplars[i]));
      }
      out.bytes(sum);
      out.again(labelsStart, labelsEnd);
      writeNumber(out, series.sum);
      out.bytes(count);
      out.again(labelsStart, labelsEnd);
      writeNumber(out, series.count);
    };
  }
  const sample = Buffer.from(`\n${openMetrics && store.type === 'counter' ? `${name}_total` : name}{`);
  const close = Buffer.from(defaultsText === '' ? '} ' : `,${defaultsText}} `);
  return function writeValue(one, out) {
    const series = one as ValueSeries;
    out.bytes(sample);
    writeLabels(series.labels, out);
    out.bytes(close);
    writeNumber(out, series.value);
    if (openMetrics) out.utf8(exemplarText(series.exemplar));
  };
}
