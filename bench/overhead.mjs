// Overhead: the same tiny app in every variant, each in its own process pinned to the server core,
// loaded by autocannon from this process (pinned to the other core), variants interleaved across rounds.
// CPU µs per request comes from the server's own process.cpuUsage() read before and after each run.
import autocannon from 'autocannon';
import { startServer } from './lib/child.mjs';
import { fmt, max, median, min, spread, table } from './lib/stats.mjs';
import { VARIANTS } from './lib/variants.mjs';

/** 1000 pre-built requests: /users/1 … /users/1000, cycled by every connection. */
const REQUESTS = Array.from({ length: 1000 }, (_, i) => ({ method: 'GET', path: `/users/${i + 1}` }));

function load(port, { seconds, connections, pipelining }, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        pipelining,
        duration: seconds,
        requests: REQUESTS,
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (onResponse !== undefined) instance.on('response', onResponse);
  });
}

/**
 * One measured run of one variant: requests, req/s, server CPU µs per request and how busy the server was.
 * autocannon builds every connection's 1000 request buffers before it sends anything (~1 s per 100
 * connections), so the window starts at the first response, not at autocannon's start: the server's
 * CPU is read then and once the run is done, and only the responses in between are counted.
 */
async function measure(server, settings) {
  let responses = 0;
  let before;
  let countAtBefore = 0;
  const result = await load(server.port, { ...settings, seconds: settings.seconds + settings.buildSeconds }, () => {
    if (responses++ === 0) {
      before = server.ask('cpu').then((reading) => {
        countAtBefore = responses;
        return reading;
      });
    }
  });
  const after = await server.ask('cpu');
  const start = await before;
  const cpuUs = after.cpu.user + after.cpu.system - (start.cpu.user + start.cpu.system);
  const wallMs = after.wall - start.wall;
  const requests = responses - countAtBefore;
  return {
    requests,
    reqPerSec: requests / (wallMs / 1000),
    cpuUsPerReq: requests > 0 ? cpuUs / requests : Number.NaN,
    busy: cpuUs / 1000 / wallMs,
    errors: result.errors + result.timeouts + result.non2xx,
    latencyP99Ms: result.latency.p99,
  };
}

/**
 * @param {{ variants: string[], rounds: number, seconds: number, warmupSeconds: number,
 *           connections: number, pipelining: number, log: (line: string) => void }} options
 */
export async function runOverhead({ variants, rounds, seconds, warmupSeconds, connections, pipelining, log }) {
  // ~1 s of request building per 100 connections comes before the window (see measure).
  const settings = { seconds, connections, pipelining, buildSeconds: Math.ceil(connections / 100) };
  const started = await Promise.allSettled(variants.map((name) => startServer(name)));
  const servers = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const server of servers) {
      log(`  warm-up ${server.name} (${warmupSeconds} s)`);
      await load(server.port, { ...settings, seconds: warmupSeconds + settings.buildSeconds });
    }
    const runs = Object.fromEntries(variants.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      // Rotate the order every round so drift and position effects cancel.
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const server of order) {
        const run = await measure(server, settings);
        runs[server.name].push({ round, ...run });
        log(
          `  round ${round + 1}/${rounds} ${server.name.padEnd(20)} ${fmt(run.reqPerSec, 0).padStart(6)} req/s ` +
            `${fmt(run.cpuUsPerReq, 1).padStart(6)} µs/req  busy ${fmt(run.busy * 100, 0)}%`,
        );
      }
    }
    return summarize(variants, runs, settings);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/** Per variant: medians across rounds, and the added cost against the same round's bare variant. */
function summarize(variants, runs, settings) {
  const bareOf = (name) => `${VARIANTS[name].framework}-bare`;
  const rows = variants.map((name) => {
    const own = runs[name];
    const bare = runs[bareOf(name)] ?? [];
    const paired = own.map((run) => [run, bare.find((b) => b.round === run.round)]).filter(([, b]) => b !== undefined);
    const added = paired.map(([run, b]) => run.cpuUsPerReq - b.cpuUsPerReq);
    const ratio = paired.map(([run, b]) => run.reqPerSec / b.reqPerSec);
    return {
      name,
      label: VARIANTS[name].label,
      framework: VARIANTS[name].framework,
      reqPerSec: median(own.map((r) => r.reqPerSec)),
      reqPerSecRange: [min(own.map((r) => r.reqPerSec)), max(own.map((r) => r.reqPerSec))],
      cpuUsPerReq: median(own.map((r) => r.cpuUsPerReq)),
      cpuUsPerReqRange: [min(own.map((r) => r.cpuUsPerReq)), max(own.map((r) => r.cpuUsPerReq))],
      addedUs: name === bareOf(name) ? 0 : median(added),
      // Interference from neighbours only ever adds CPU time, so the best round is a second, steadier estimate.
      addedBestUs: name === bareOf(name) ? 0 : min(own.map((r) => r.cpuUsPerReq)) - min(bare.map((r) => r.cpuUsPerReq)),
      addedUsRange: name === bareOf(name) ? [0, 0] : [min(added), max(added)],
      ratio: median(ratio),
      ratioRange: [min(ratio), max(ratio)],
      busy: median(own.map((r) => r.busy)),
      errors: own.reduce((sum, r) => sum + r.errors, 0),
      latencyP99Ms: median(own.map((r) => r.latencyP99Ms)),
      runs: own,
    };
  });
  return { settings, rows };
}

export function overheadTable({ rows }) {
  const range = ([a, b], d) => `${fmt(a, d)}–${fmt(b, d)}`;
  return table(
    [
      'variant',
      'CPU µs/req',
      'µs added vs bare (min–max)',
      'µs added, best rounds',
      'req/s',
      'ratio to bare (min–max)',
      'server busy',
      'errors',
    ],
    rows.map((r) => [
      r.label,
      `${fmt(r.cpuUsPerReq, 1)}`,
      VARIANTS[r.name].bare ? '—' : `**${fmt(r.addedUs, 1)}** (${range(r.addedUsRange, 1)})`,
      VARIANTS[r.name].bare ? '—' : fmt(r.addedBestUs, 1),
      `${fmt(r.reqPerSec, 0)}`,
      VARIANTS[r.name].bare ? '1.00' : `${fmt(r.ratio, 2)} (${range(r.ratioRange, 2)})`,
      `${fmt(r.busy * 100, 0)}%`,
      String(r.errors),
    ]),
  );
}

export { spread };
