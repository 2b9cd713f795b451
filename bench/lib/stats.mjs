export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const min = (values) => Math.min(...values);
export const max = (values) => Math.max(...values);

/** A number with a fixed count of decimals. */
export const fmt = (value, decimals = 1) => (Number.isFinite(value) ? value.toFixed(decimals) : 'n/a');

/** `median (min–max)`. */
export const spread = (values, decimals = 1) =>
  values.length === 0
    ? 'n/a'
    : `${fmt(median(values), decimals)} (${fmt(min(values), decimals)}–${fmt(max(values), decimals)})`;

/** A Markdown table from a header row and rows of cells, its columns padded as the formatter (biome) pads them. */
export function table(header, rows) {
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((cells) => [...String(cells[i])].length)));
  const pad = (text, i) => String(text) + ' '.repeat(widths[i] - [...String(text)].length);
  const line = (cells) => `| ${cells.map(pad).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/**
 * The median and a 95% percentile-bootstrap interval for it: `resamples` resamplings with replacement,
 * from a seeded PRNG (mulberry32) so that the same rounds give the same interval.
 * @returns {{ median: number, low: number, high: number }}
 */
export function bootstrapMedian(values, { resamples = 4000, seed = 13 } = {}) {
  // Fewer than three values resample to little more than themselves: no interval.
  if (values.length < 3)
    return { median: values.length === 0 ? Number.NaN : median(values), low: Number.NaN, high: Number.NaN };
  const next = random(seed);
  const medians = new Float64Array(resamples);
  const sample = new Array(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[Math.floor(next() * values.length)];
    medians[r] = median(sample);
  }
  medians.sort();
  return {
    median: median(values),
    low: medians[Math.floor(0.025 * (resamples - 1))],
    high: medians[Math.ceil(0.975 * (resamples - 1))],
  };
}

/** A seeded PRNG (mulberry32), so every run sends the same "random" traffic and draws the same resamples. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher–Yates), drawn from `next` (see random). */
export function shuffle(items, next) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
