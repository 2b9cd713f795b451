// Scrape cost: 500 routes × 3 methods × 4 status codes recorded (6,000 label sets), then /metrics
// timed over 20 scrapes, with the longest event-loop stall the server saw during each scrape (in protobuf,
// as Prometheus asks with native histograms on, for the `-protobuf` variants). The same
// server then grows to 60,000 label sets (40 status codes), and before it starts at 600 (50 routes):
// the cost curve of a scrape as a service grows.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startServer } from './lib/child.mjs';
import { get, sendAll } from './lib/load.mjs';
import { fmt, max, median, table } from './lib/stats.mjs';
import { SCRAPE_METHODS, SCRAPE_ROUTES, SCRAPE_STATUSES, VARIANTS } from './lib/variants.mjs';

/** The series curve: label sets → routes and status codes requested (each status list starts with the last). */
const CURVE = [
  { labelSets: 600, routes: 50, statuses: SCRAPE_STATUSES },
  { labelSets: 6_000, routes: SCRAPE_ROUTES, statuses: SCRAPE_STATUSES },
  {
    labelSets: 60_000,
    routes: SCRAPE_ROUTES,
    statuses: [
      ...SCRAPE_STATUSES,
      ...[202, 203, 205, 206, 207, 208, 226, 400, 401, 402, 403, 405, 406, 407, 408, 409, 410, 411, 412, 413],
      ...[414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 501],
    ],
  },
];
const MB = 1024 * 1024;
const execFileAsync = promisify(execFile);

/** One request per (route, method, status): 6,000 label sets by default. */
export function labelSetRequests({ routes = SCRAPE_ROUTES, statuses = SCRAPE_STATUSES } = {}) {
  const requests = [];
  for (let i = 0; i < routes; i++) {
    for (const method of SCRAPE_METHODS) {
      for (const status of statuses) {
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

/** Label sets of the request metrics (http_*) in a body, `le` left out: for libraries outside prom-client. */
function labelSetsIn(text) {
  const sets = new Set();
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_')) continue;
    sets.add(
      line
        .slice(0, line.lastIndexOf(' '))
        .replace(/_(bucket|sum|count)\{/, '{')
        .replace(/,?le="[^"]*"/, ''),
    );
  }
  return sets.size;
}

/**
 * @param {{ variants: string[], scrapes: number, largeVariants: string[], largeScrapes: number,
 *           log: (line: string) => void }} options
 *   largeVariants: the variants that go on to 60,000 label sets, scraped largeScrapes times there
 */
export async function runScrape({ variants, scrapes, largeVariants = variants, largeScrapes = scrapes, log }) {
  const rows = [];
  const curve = [];
  // Servers start together (their start-up does not overlap any measurement), then run one at a time.
  const servers = await Promise.all(variants.map((name) => startServer(name, { scrapeRoutes: true })));
  try {
    for (const server of servers) {
      for (const stage of CURVE) {
        if (stage.labelSets > 6_000 && !largeVariants.includes(server.name)) break;
        const recorded = await sendAll(server.port, labelSetRequests(stage));
        if (recorded.errors + recorded.timeouts > 0) throw new Error(`${server.name}: recording requests failed`);
        const row = await timeScrapes(server, stage.labelSets > 6_000 ? largeScrapes : scrapes);
        if (stage.labelSets === 6_000) {
          rows.push(row);
          log(
            `  ${server.name.padEnd(20)} median ${fmt(row.medianMs)} ms, max ${fmt(row.maxMs)} ms, ` +
              `stall ≤ ${fmt(row.maxStallMs)} ms, ${fmt(row.bodyBytes / 1024, 0)} KiB, ${row.series} label sets, RSS ${fmt(row.rssMB, 0)} MB`,
          );
        }
        const { times: _t, stalls: _s, seriesByMetric: _m, ...point } = row;
        curve.push({ ...point, labelSets: stage.labelSets });
        log(
          `  ${server.name.padEnd(20)} ${stage.labelSets} label sets: median ${fmt(row.medianMs)} ms, stall ≤ ${fmt(row.maxStallMs)} ms`,
        );
      }
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  return { labelSets: 6_000, scrapes, largeScrapes, client: SCRAPE_CLIENT, rows, curve };
}

/** What Prometheus sends with native histograms on: the protobuf format first. */
const PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3';

const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
/** How scrapes are timed, for RESULTS.md. */
export const SCRAPE_CLIENT = hasCurl ? 'curl' : "Node's http client";

/**
 * One GET /metrics, timed by curl where it is installed: a client as quick as Prometheus's own. Node's http
 * client, reading the same 10 MB body on the other core, took 40-180 ms where curl took 8-20: most of a
 * scrape's time was the reading side's.
 * @returns {Promise<{ status: number, contentType: string, ms: number }>}
 */
async function timedScrape(port, headers) {
  if (!hasCurl) {
    const scrape = await get(port, '/metrics', headers);
    return { status: scrape.status, contentType: String(scrape.headers['content-type']), ms: scrape.ms };
  }
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total} %{content_type}'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const { stdout } = await execFileAsync('curl', [...args, `http://127.0.0.1:${port}/metrics`]);
  const [status, seconds, ...contentType] = stdout.split(' ');
  return { status: Number(status), contentType: contentType.join(' '), ms: Number(seconds) * 1000 };
}

/**
 * The first scrape after new label sets appear (they are all rendered then), a warm-up, then `scrapes`
 * timed ones, each with the server's longest loop stall during it.
 */
async function timeScrapes(server, scrapes) {
  const variant = VARIANTS[server.name];
  const headers = variant.protobuf ? { accept: PROTOBUF_ACCEPT } : {};
  // The first scrape after the label sets appear renders all of them: timed apart, then one more warm-up.
  await server.ask('loop');
  const first = await timedScrape(server.port, headers);
  const firstStall = await server.ask('loop');
  await get(server.port, '/metrics', headers);
  const times = [];
  const stalls = [];
  for (let i = 0; i < scrapes; i++) {
    await server.ask('loop'); // resets the event-loop delay histogram
    const scrape = await timedScrape(server.port, headers);
    if (variant.protobuf && !scrape.contentType.startsWith('application/vnd.google.protobuf'))
      throw new Error(`${server.name}: /metrics did not answer in protobuf`);
    if (scrape.status !== 200) throw new Error(`${server.name}: /metrics answered ${scrape.status}`);
    // A timer due during the scrape fires right after it, before the server reads our IPC message.
    const { maxMs } = await server.ask('loop');
    times.push(scrape.ms);
    stalls.push(maxMs);
  }
  // The body the checks read, fetched untimed.
  const { body } = await get(server.port, '/metrics', headers);
  // Memory first: counting the series through prom-client's getMetricsAsJSON allocates far more than a scrape.
  const mem = await server.ask('mem');
  const text = body.toString('utf8');
  const series = variant.otel ? { total: labelSetsIn(text), byMetric: {} } : await server.ask('series');
  const row = {
    name: server.name,
    label: variant.label,
    medianMs: median(times),
    maxMs: max(times),
    maxStallMs: max(stalls),
    medianStallMs: median(stalls),
    firstMs: first.ms,
    firstStallMs: firstStall.maxMs,
    bodyBytes: body.length,
    series: series.total,
    seriesByMetric: series.byMetric,
    rssMB: mem.rss / MB,
    heapUsedMB: mem.heapUsed / MB,
    times,
    stalls,
  };
  // OpenTelemetry's http.route comes from the framework instrumentation through the context manager.
  if (variant.otel) row.routeLabelOk = text.includes('http_route="/r1/:id"');
  // A protobuf body is checked by the tests (packages/core, decoded by protobufjs), not here.
  if (variant.ours && !variant.protobuf) {
    // Our output must carry the same samples as prom-client's own rendering of the registry.
    const own = await server.ask('promText');
    const ours = requestSamples(text);
    const theirs = requestSamples(own.text);
    row.samplesMatchPromClient = ours.length === theirs.length && ours.every((line, i) => line === theirs[i]);
    row.promClientMs = own.ms;
  }
  return row;
}

export function scrapeTable({ rows }) {
  return table(
    [
      'variant',
      'scrape median ms',
      'scrape max ms',
      'first scrape ms (stall)',
      'longest loop stall ms',
      'body KiB',
      'request label sets',
      'RSS MB',
      'heap MB',
      'same samples as prom-client',
    ],
    rows.map((r) => [
      r.label,
      fmt(r.medianMs),
      fmt(r.maxMs),
      r.firstMs === undefined ? '—' : `${fmt(r.firstMs)} (${fmt(r.firstStallMs)})`,
      fmt(r.maxStallMs),
      fmt(r.bodyBytes / 1024, 0),
      String(r.series),
      fmt(r.rssMB, 0),
      fmt(r.heapUsedMB, 1),
      r.samplesMatchPromClient === undefined ? '—' : r.samplesMatchPromClient ? 'yes' : '**no**',
    ]),
  );
}

/** Scrape median (and max) ms at 600, 6,000 and 60,000 label sets, per variant. */
export function scrapeCurveTable({ curve }) {
  const sizes = [...new Set(curve.map((p) => p.labelSets))];
  const names = [...new Set(curve.map((p) => p.name))];
  return table(
    ['variant', ...sizes.map((n) => `${n.toLocaleString('en')} label sets: median (max) ms, stall ms`)],
    names.map((name) => [
      VARIANTS[name].label,
      ...sizes.map((n) => {
        const p = curve.find((x) => x.name === name && x.labelSets === n);
        return p === undefined ? 'not run' : `${fmt(p.medianMs)} (${fmt(p.maxMs)}), ${fmt(p.maxStallMs)}`;
      }),
    ]),
  );
}
