// Scrape cost: 500 routes × 3 methods × 4 status codes recorded (6,000 label sets), then /metrics
// timed over 20 scrapes, with the longest event-loop stall the server saw during each scrape.
import { startServer } from './lib/child.mjs';
import { get, sendAll } from './lib/load.mjs';
import { fmt, max, median, table } from './lib/stats.mjs';
import { SCRAPE_METHODS, SCRAPE_ROUTES, SCRAPE_STATUSES, VARIANTS } from './lib/variants.mjs';

/** One request per (route, method, status): 6,000 label sets. */
export function labelSetRequests() {
  const requests = [];
  for (let i = 0; i < SCRAPE_ROUTES; i++) {
    for (const method of SCRAPE_METHODS) {
      for (const status of SCRAPE_STATUSES) {
        requests.push({ method, path: `/r${i}/${(i * 7 + status) % 1000}`, headers: { 'x-status': String(status) } });
      }
    }
  }
  return requests;
}

/** Sample lines (`name{labels} value`) of the request metrics (http_*), sorted, for an order-free comparison. */
function requestSamples(text) {
  return text
    .split('\n')
    .filter((line) => line.startsWith('http_'))
    .sort();
}

/**
 * @param {{ variants: string[], scrapes: number, log: (line: string) => void }} options
 */
export async function runScrape({ variants, scrapes, log }) {
  const requests = labelSetRequests();
  const rows = [];
  // Servers start together (their start-up does not overlap any measurement), then run one at a time.
  const servers = await Promise.all(variants.map((name) => startServer(name, { scrapeRoutes: true })));
  try {
    for (const server of servers) {
      const recorded = await sendAll(server.port, requests);
      if (recorded.errors + recorded.timeouts > 0) throw new Error(`${server.name}: recording requests failed`);
      for (let i = 0; i < 2; i++) await get(server.port, '/metrics'); // warm-up
      const times = [];
      const stalls = [];
      let body;
      for (let i = 0; i < scrapes; i++) {
        await server.ask('loop'); // resets the event-loop delay histogram
        const scrape = await get(server.port, '/metrics');
        if (scrape.status !== 200) throw new Error(`${server.name}: /metrics answered ${scrape.status}`);
        // A timer due during the scrape fires right after it, before the server reads our IPC message.
        const { maxMs } = await server.ask('loop');
        times.push(scrape.ms);
        stalls.push(maxMs);
        body = scrape.body;
      }
      const series = await server.ask('series');
      const row = {
        name: server.name,
        label: VARIANTS[server.name].label,
        medianMs: median(times),
        maxMs: max(times),
        maxStallMs: max(stalls),
        medianStallMs: median(stalls),
        bodyBytes: body.length,
        series: series.total,
        seriesByMetric: series.byMetric,
        times,
        stalls,
      };
      if (VARIANTS[server.name].ours) {
        // Our output must carry the same samples as prom-client's own rendering of the registry.
        const own = await server.ask('promText');
        const ours = requestSamples(body.toString('utf8'));
        const theirs = requestSamples(own.text);
        row.samplesMatchPromClient = ours.length === theirs.length && ours.every((line, i) => line === theirs[i]);
        row.promClientMs = own.ms;
      }
      rows.push(row);
      log(
        `  ${server.name.padEnd(20)} median ${fmt(row.medianMs)} ms, max ${fmt(row.maxMs)} ms, ` +
          `stall ≤ ${fmt(row.maxStallMs)} ms, ${fmt(row.bodyBytes / 1024, 0)} KiB, ${row.series} label sets`,
      );
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  return { labelSets: requests.length, scrapes, rows };
}

export function scrapeTable({ rows }) {
  return table(
    [
      'variant',
      'scrape median ms',
      'scrape max ms',
      'longest loop stall ms',
      'body KiB',
      'request label sets',
      'same samples as prom-client',
    ],
    rows.map((r) => [
      r.label,
      fmt(r.medianMs),
      fmt(r.maxMs),
      fmt(r.maxStallMs),
      fmt(r.bodyBytes / 1024, 0),
      String(r.series),
      r.samplesMatchPromClient === undefined ? '—' : r.samplesMatchPromClient ? 'yes' : '**no**',
    ]),
  );
}
