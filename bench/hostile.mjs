// Hostile traffic: 20,000 requests to random unmatched URLs (a scanner, a fuzzer), per library beside
// the bare framework: how many series each library adds, and how much heap and RSS the process grows.
import { startServer } from './lib/child.mjs';
import { random, sendAll } from './lib/load.mjs';
import { fmt, table } from './lib/stats.mjs';
import { VARIANTS } from './lib/variants.mjs';

const LETTERS = 'ghijklmnopqrstuvwxyz'; // no hex digits: ID-guessing normalizers must not collapse these

function hostileRequests(count, seed) {
  const next = random(seed);
  const word = (length) => Array.from({ length }, () => LETTERS[Math.floor(next() * LETTERS.length)]).join('');
  const shapes = [
    () => `/${word(8)}`,
    () => `/${word(5)}/${word(8)}.php`,
    () => `/wp-${word(6)}/${word(4)}`,
    () => `/.${word(6)}`,
    () => `/users/${word(3)}/${word(7)}`, // a known prefix with a tail no route has
  ];
  return Array.from({ length: count }, () => ({ method: 'GET', path: shapes[Math.floor(next() * shapes.length)]() }));
}

const MB = 1024 * 1024;

/**
 * @param {{ variants: string[], requests: number, log: (line: string) => void }} options
 */
export async function runHostile({ variants, requests: count, log }) {
  const warmup = Array.from({ length: 1000 }, (_, i) => ({ method: 'GET', path: `/users/${(i % 1000) + 1}` }));
  const hostile = hostileRequests(count, 6);
  const filler = { method: 'GET', path: '/users/1' };
  const rows = [];
  // Memory is not disturbed by a neighbour's CPU use: all servers start together, then load one at a time.
  const servers = await Promise.all(variants.map((name) => startServer(name)));
  try {
    for (const server of servers) {
      // Warm up: matched traffic and a few unmatched requests, so lazily created state exists before the baseline.
      await sendAll(server.port, [...warmup, ...hostileRequests(50, 99)]);
      // Series first: counting them through prom-client allocates, and must not fall between the two readings.
      const seriesBefore = await server.ask('series');
      const memBefore = await server.ask('mem');
      const result = await sendAll(server.port, hostile, { filler });
      const memAfter = await server.ask('mem');
      const seriesAfter = await server.ask('series');
      const row = {
        name: server.name,
        label: VARIANTS[server.name].label,
        framework: VARIANTS[server.name].framework,
        bare: VARIANTS[server.name].bare === true,
        responses: result.requests.total,
        statusCodes: result.statusCodeStats,
        seriesBefore: seriesBefore.total,
        seriesAfter: seriesAfter.total,
        seriesAdded: seriesAfter.total - seriesBefore.total,
        seriesByMetric: seriesAfter.byMetric,
        heapGrowthMB: (memAfter.heapUsed - memBefore.heapUsed) / MB,
        rssGrowthMB: (memAfter.rss - memBefore.rss) / MB,
        heapAfterMB: memAfter.heapUsed / MB,
        rssAfterMB: memAfter.rss / MB,
      };
      rows.push(row);
      log(
        `  ${server.name.padEnd(20)} +${row.seriesAdded} label sets, heap ${fmt(row.heapGrowthMB, 2)} MB, ` +
          `RSS ${fmt(row.rssGrowthMB, 1)} MB`,
      );
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  // Growth beyond the same framework's bare process is what the library itself holds.
  for (const row of rows) {
    const bare = rows.find((other) => other.bare && other.framework === row.framework);
    row.heapOverBareMB = bare === undefined || row.bare ? 0 : row.heapGrowthMB - bare.heapGrowthMB;
    row.rssOverBareMB = bare === undefined || row.bare ? 0 : row.rssGrowthMB - bare.rssGrowthMB;
  }
  return { requests: count, rows };
}

export function hostileTable({ rows }) {
  return table(
    ['variant', 'label sets added', 'heap growth MB (vs bare)', 'RSS growth MB (vs bare)', 'label sets after'],
    rows.map((r) => [
      r.label,
      String(r.seriesAdded),
      r.bare
        ? fmt(r.heapGrowthMB, 2)
        : `${fmt(r.heapGrowthMB, 2)} (${r.heapOverBareMB >= 0 ? '+' : ''}${fmt(r.heapOverBareMB, 2)})`,
      r.bare
        ? fmt(r.rssGrowthMB, 1)
        : `${fmt(r.rssGrowthMB, 1)} (${r.rssOverBareMB >= 0 ? '+' : ''}${fmt(r.rssOverBareMB, 1)})`,
      String(r.seriesAfter),
    ]),
  );
}
