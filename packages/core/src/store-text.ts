import { SeriesChunks } from './series-chunks.js';
import type { Exemplar, HistogramSeries, HistogramStore, Labels, ValueSeries, ValueStore } from './store.js';
import type { TurnBudget } from './turn-budget.js';

/**
 * Renders routemeter's stores byte for byte as prom-client's registry would, but fast: each series'
 * label text is escaped once, a series' text is reused while the series is unchanged (kept in chunks of
 * consecutive series: {@link SeriesChunks}), and the output is the list of those chunks, not a copy of
 * them, built a few milliseconds per turn of the event loop
 * ({@link TurnBudget}), so a scrape of thousands of series neither takes prom-client's ~180 ms nor stalls
 * the server for it. (The equivalence with prom-client's rendering is a property test: store.test.ts.)
 */

const labelTexts = new WeakMap<Labels, string>();

/** `name="value",…` for a series' labels, escaped as prom-client escapes them; computed once per series. */
function labelText(labels: Labels): string {
  let text = labelTexts.get(labels);
  if (text === undefined) {
    text = formatLabels(labels);
    labelTexts.set(labels, text);
  }
  return text;
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
  const caches = openMetrics ? openMetricsChunks : textChunks;
  let chunks = caches.get(store);
  if (chunks === undefined) {
    chunks = new SeriesChunks();
    caches.set(store, chunks);
  }
  const series = await chunks.render(
    Array.from<ValueSeries | HistogramSeries>(store.series.values()),
    `${name}\u0000${defaultsText}\u0000${store.generation}`,
    (one) => `\n${seriesText(store, one, name, openMetrics, defaultsText)}`,
    turn,
  );
  return [Buffer.from(header), ...series];
}

/** Each store's cached text, per format. */
const textChunks = new WeakMap<object, SeriesChunks>();
const openMetricsChunks = new WeakMap<object, SeriesChunks>();

function seriesText(
  store: ValueStore | HistogramStore,
  series: ValueSeries | HistogramSeries,
  name: string,
  openMetrics: boolean,
  defaultsText: string,
): string {
  if (store.type === 'histogram') {
    return histogramText(store as HistogramStore, series as HistogramSeries, defaultsText, openMetrics);
  }
  const sampleName = openMetrics && store.type === 'counter' ? `${name}_total` : name;
  const labels = defaultsText === '' ? labelText(series.labels) : `${labelText(series.labels)},${defaultsText}`;
  const { value, exemplar } = series as ValueSeries;
  return `${sampleName}{${labels}} ${valueText(value)}${openMetrics ? exemplarText(exemplar) : ''}`;
}

const bucketPrefixes = new WeakMap<HistogramStore, { defaultsText: string; prefixes: string[] }>();

/** `name_bucket{le="0.005",` and so on for each bound, with the default labels; built once per store and defaults. */
function bucketLinePrefixes(store: HistogramStore, defaultsText: string): string[] {
  const cached = bucketPrefixes.get(store);
  if (cached !== undefined && cached.defaultsText === defaultsText) return cached.prefixes;
  const withDefaults = defaultsText === '' ? '' : `${defaultsText},`;
  const prefixes = [...store.upperBounds, '+Inf'].map((le) => `${store.name}_bucket{le="${le}",${withDefaults}`);
  bucketPrefixes.set(store, { defaultsText, prefixes });
  return prefixes;
}

function histogramText(
  store: HistogramStore,
  series: HistogramSeries,
  defaultsText: string,
  openMetrics: boolean,
): string {
  const lines: string[] = [];
  const prefixes = bucketLinePrefixes(store, defaultsText);
  const labels = labelText(series.labels);
  const bounds = store.upperBounds.length;
  const exemplars = openMetrics ? series.exemplars : undefined;
  let cumulative = 0;
  for (let i = 0; i < bounds; i++) {
    cumulative += series.counts[i] as number;
    const exemplar = exemplars === undefined ? '' : exemplarText(exemplars[i]);
    lines.push(`${prefixes[i]}${labels}} ${valueText(cumulative)}${exemplar}`);
  }
  const exemplar = exemplars === undefined ? '' : exemplarText(exemplars[bounds]);
  lines.push(`${prefixes[bounds]}${labels}} ${valueText(series.count)}${exemplar}`);
  const tail = defaultsText === '' ? labels : `${defaultsText},${labels}`;
  lines.push(`${store.name}_sum{${tail}} ${valueText(series.sum)}`);
  lines.push(`${store.name}_count{${tail}} ${valueText(series.count)}`);
  return lines.join('\n');
}
