// Cluster primary: one primary and 4 workers, each worker with the scrape bench's 6,000 label sets, scraped
// through routemeter's serveMetrics({ cluster }) and through prom-client's AggregatorRegistry, alternately, in
// the same processes, a tenth of each worker's series changing before each scrape. Time to the last byte,
// and the longest event-loop stall in the primary during each scrape.
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/child.mjs';
import { get } from './lib/load.mjs';
import { fmt, max, median, table } from './lib/stats.mjs';

const entry = fileURLToPath(new URL('./cluster-server.mjs', import.meta.url));
export const CLUSTER_WORKERS = 4;

const SOURCES = [
  { key: 'routemeter', label: 'routemeter serveMetrics({ cluster })' },
  { key: 'promClient', label: "prom-client's AggregatorRegistry" },
];

/** Sample lines of the request metrics (http_*), sorted: the two sums must carry the same samples. */
const requestSamples = (body) =>
  body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('http_'))
    .sort();

/**
 * @param {{ scrapes: number, log: (line: string) => void }} options
 */
export async function runCluster({ scrapes, log }) {
  const server = await startServer('cluster', { entry, args: [String(CLUSTER_WORKERS)], timeoutMs: 120_000 });
  try {
    const results = Object.fromEntries(SOURCES.map(({ key }) => [key, { times: [], stalls: [], body: undefined }]));
    for (const { key } of SOURCES) for (let i = 0; i < 2; i++) await get(server.ports[key], '/metrics'); // warm-up
    for (let i = 0; i < scrapes; i++) {
      for (const { key } of i % 2 === 0 ? SOURCES : [...SOURCES].reverse()) {
        await server.ask('touch'); // a tenth of each worker's series changes between two scrapes
        await server.ask('loop'); // resets the primary's event-loop delay histogram
        const scrape = await get(server.ports[key], '/metrics');
        if (scrape.status !== 200) throw new Error(`cluster ${key}: /metrics answered ${scrape.status}`);
        const { maxMs } = await server.ask('loop');
        results[key].times.push(scrape.ms);
        results[key].stalls.push(maxMs);
        results[key].body = scrape.body;
      }
    }
    // Both sums of the same state, for the comparison: no touch between these two.
    const ours = requestSamples((await get(server.ports.routemeter, '/metrics')).body);
    const theirs = requestSamples((await get(server.ports.promClient, '/metrics')).body);
    const sameSamples = ours.length === theirs.length && ours.every((line, i) => line === theirs[i]);
    const rows = SOURCES.map(({ key, label }) => {
      const { times, stalls, body } = results[key];
      const row = {
        name: key,
        label,
        medianMs: median(times),
        maxMs: max(times),
        medianStallMs: median(stalls),
        maxStallMs: max(stalls),
        bodyBytes: body.length,
        times,
        stalls,
      };
      log(
        `  ${label.padEnd(38)} median ${fmt(row.medianMs)} ms, max ${fmt(row.maxMs)} ms, ` +
          `primary stall median ${fmt(row.medianStallMs)} ms, max ${fmt(row.maxStallMs)} ms, ${fmt(row.bodyBytes / 1024, 0)} KiB`,
      );
      return row;
    });
    return { workers: CLUSTER_WORKERS, labelSets: 6000, scrapes, sameSamples, requestSamples: ours.length, rows };
  } finally {
    await server.stop();
  }
}

export function clusterTable({ rows }) {
  return table(
    [
      'primary serving 4 workers',
      'scrape median ms',
      'scrape max ms',
      'primary stall median ms',
      'primary stall max ms',
      'body KiB',
    ],
    rows.map((r) => [
      r.label,
      fmt(r.medianMs),
      fmt(r.maxMs),
      fmt(r.medianStallMs),
      fmt(r.maxStallMs),
      fmt(r.bodyBytes / 1024, 0),
    ]),
  );
}
