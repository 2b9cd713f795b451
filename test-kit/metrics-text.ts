/** One sample line of a Prometheus text or OpenMetrics exposition, parsed. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What one exposition says: its samples, and the TYPE of each metric family. */
export interface Exposition {
  readonly samples: readonly Sample[];
  readonly types: ReadonlyMap<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+#.*)?$/s;

/** Parses the text format 0.0.4 or OpenMetrics 1.0.0, un-escaping label values. Throws on a malformed line. */
export function parseExposition(body: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name as string, type as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`malformed sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, value] = match;
    samples.push({ name: name as string, labels: parseLabels(labelText ?? ''), value: parseValue(value as string) });
  }
  return { samples, types };
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  // prom-client writes NaN as 'Nan'; Prometheus parses floats case-insensitively, and so does this.
  if (text.toLowerCase() === 'nan') return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`malformed value: ${text}`);
  return value;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  let i = 1;
  while (i < text.length - 1) {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (text[eq + 1] !== '"') throw new Error(`malformed labels: ${text}`);
    let value = '';
    let j = eq + 2;
    for (; text[j] !== '"'; j++) {
      if (j >= text.length) throw new Error(`unterminated label value: ${text}`);
      if (text[j] === '\\') {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

/** The value of the one sample with this name and exactly these labels (extra labels not allowed); undefined if none. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels);
  const found = exposition.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === wanted.length &&
      wanted.every(([key, value]) => s.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Sum of every sample with this name whose labels include these. */
export function sumOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((total, s) => total + s.value, 0);
}

/** The distinct values a label takes across the samples of a metric. */
export function labelValues(exposition: Exposition, name: string, label: string): string[] {
  const values = new Set<string>();
  for (const s of exposition.samples) {
    const value = s.labels[label];
    if (s.name === name && value !== undefined) values.add(value);
  }
  return [...values].sort();
}

/** Counts of `http_requests_total` as `METHOD route status [label=value…]` → count. */
export function countsOf(metrics: Exposition, ...extra: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of metrics.samples) {
    if (s.name !== 'http_requests_total') continue;
    const key = [s.labels.method, s.labels.route, s.labels.status_code, ...extra.map((l) => `${l}=${s.labels[l]}`)];
    counts[key.join(' ')] = (counts[key.join(' ')] ?? 0) + s.value;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
