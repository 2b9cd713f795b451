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
