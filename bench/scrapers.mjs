// Many scrapers at once (issue 10): a registry of 20,000 label sets, then rounds of 20 concurrent
// GET /metrics read to the end (the longest event-loop stall in the server during each round), then
// 20 clients that send GET /metrics and never read (how much memory the server holds for them).
import http from 'node:http';
import { connect } from 'node:net';
import { startServer } from './lib/child.mjs';
import { sendAll } from './lib/load.mjs';
import { fmt, max, median, table } from './lib/stats.mjs';
import { SCRAPE_ROUTES, VARIANTS } from './lib/variants.mjs';

const METHODS = ['GET', 'POST'];
/** 20 statuses × 2 methods × 500 routes: 20,000 label sets. None is 204 or 304, which carry no body. */
const STATUSES = [200, 201, 202, 203, 206, 400, 401, 402, 403, 404, 405, 406, 409, 410, 422, 429, 500, 501, 502, 503];
const MB = 1024 * 1024;

function labelSetRequests() {
  const requests = [];
  for (let i = 0; i < SCRAPE_ROUTES; i++) {
    for (const method of METHODS) {
      for (const status of STATUSES)
        requests.push({ method, path: `/r${i}/1`, headers: { 'x-status': String(status) } });
    }
  }
  return requests;
}

/** GET /metrics on a connection of its own, counting the body's bytes without keeping them. */
function scrapeCounting(port) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => {
        bytes += chunk.length;
      });
      res.on('end', () => {
        const declared = Number(res.headers['content-length']);
        if (res.statusCode !== 200 || bytes !== declared) {
          reject(new Error(`/metrics answered ${res.statusCode} with ${bytes} of ${declared} bytes`));
        } else resolve({ bytes, ms: performance.now() - start });
      });
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
  });
}

/** A client that sends GET /metrics and never reads the answer. */
function stalledScraper(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const held = (mem) => mem.heapUsed + mem.external;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the server's memory (after GC) until two readings in a row agree within 1 MB, for 30 s at most. */
async function settledMemory(server) {
  const deadline = performance.now() + 30_000;
  let last = held(await server.ask('mem'));
  for (;;) {
    await sleep(500);
    const now = held(await server.ask('mem'));
    if (Math.abs(now - last) < MB || performance.now() > deadline) return now;
    last = now;
  }
}

/**
 * @param {{ variants: string[], clients: number, rounds: number, log: (line: string) => void }} options
 */
export async function runScrapers({ variants, clients, rounds, log }) {
  const requests = labelSetRequests();
  const rows = [];
  const servers = await Promise.all(variants.map((name) => startServer(name, { scrapeRoutes: true })));
  try {
    for (const server of servers) {
      const recorded = await sendAll(server.port, requests);
      if (recorded.errors + recorded.timeouts > 0) throw new Error(`${server.name}: recording requests failed`);
      const series = await server.ask('series');
      // Round 1 renders every series for the first time; the later ones find most text cached.
      const stalls = [];
      const busyStalls = [];
      const roundMs = [];
      let bodyBytes = 0;
      for (let round = 0; round < rounds; round++) {
        await server.ask('loop');
        const start = performance.now();
        const scrapes = await Promise.all(Array.from({ length: clients }, () => scrapeCounting(server.port)));
        roundMs.push(performance.now() - start);
        const { maxMs, busyMs } = await server.ask('loop');
        stalls.push(maxMs);
        busyStalls.push(busyMs);
        bodyBytes = scrapes[0].bytes;
      }

      const before = held(await server.ask('mem'));
      const sockets = await Promise.all(Array.from({ length: clients }, () => stalledScraper(server.port)));
      const during = await settledMemory(server);
      for (const socket of sockets) socket.destroy();
      await sleep(200);
      const after = held(await server.ask('mem'));
      await scrapeCounting(server.port); // and the server still answers, in full

      const row = {
        name: server.name,
        label: VARIANTS[server.name].label,
        series: series.byMetric.http_requests_total,
        bodyBytes,
        stalls,
        busyStalls,
        roundMs,
        maxStallMs: max(stalls),
        medianStallMs: median(stalls),
        maxBusyStallMs: max(busyStalls),
        stalledGrowthMB: (during - before) / MB,
        stalledGrowthBodies: (during - before) / bodyBytes,
        afterCloseGrowthMB: (after - before) / MB,
      };
      rows.push(row);
      log(
        `  ${server.name.padEnd(20)} ${row.series} label sets, body ${fmt(bodyBytes / MB)} MB; ${clients} concurrent: ` +
          `stall ≤ ${fmt(row.maxStallMs)} ms (rounds ${stalls.map((s) => fmt(s)).join(', ')}; own work ${busyStalls.map((s) => fmt(s)).join(', ')}); ` +
          `${clients} not reading: +${fmt(row.stalledGrowthMB)} MB (${fmt(row.stalledGrowthBodies, 2)} bodies)`,
      );
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  return { clients, rounds, rows };
}

export function scrapersTable({ rows, clients }) {
  return table(
    [
      'variant',
      'label sets (http_requests_total)',
      'body MB',
      `longest loop stall ms, ${clients} concurrent (per round)`,
      "of it, the server's own work ms (per round)",
      `round ms (${clients} bodies read)`,
      `memory held for ${clients} non-reading scrapers MB (bodies)`,
      'after they leave MB',
    ],
    rows.map((r) => [
      r.label,
      String(r.series),
      fmt(r.bodyBytes / MB),
      `${fmt(r.maxStallMs)} (${r.stalls.map((s) => fmt(s)).join(', ')})`,
      `${fmt(r.maxBusyStallMs)} (${r.busyStalls.map((s) => fmt(s)).join(', ')})`,
      r.roundMs.map((ms) => fmt(ms, 0)).join(', '),
      `${fmt(r.stalledGrowthMB)} (${fmt(r.stalledGrowthBodies, 2)})`,
      fmt(r.afterCloseGrowthMB),
    ]),
  );
}
