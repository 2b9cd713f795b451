// Overhead: the same tiny app in every variant, each in its own process pinned to the server core, loaded
// from this process (pinned to the other core). Many short rounds; in each, every variant runs between two
// runs of its bare baseline (B V1 B V2 B …, the variants shuffled), and its added cost is its server CPU
// µs/request minus the mean of the two bare runs beside it: drift on the shared machine cancels in the pair.
// Reported: the median of those paired differences over rounds, with a bootstrap 95% interval.
import { startServer } from './lib/child.mjs';
import { pipelinedLoad } from './lib/load.mjs';
import { bootstrapMedian, fmt, median, random, shuffle, table } from './lib/stats.mjs';
import { baselineOf, CURVE_ROUTES, requestPaths, VARIANTS } from './lib/variants.mjs';

const MB = 1024 * 1024;

/**
 * A server idle through the other variants' turns had V8 shrink its heap (the memory reducer), and paid
 * for growing it again in its next short run: its CPU µs/req came out up to twice bare's, measured every
 * other run. With the reducer off and the young generation at a fixed 16 MB, idle time costs nothing.
 */
const SERVER_FLAGS = ['--no-memory-reducer', '--min-semi-space-size=16'];

/** Untimed load before each run: a server idle since its last turn would pay for waking up in the run. */
const RUN_IN_SECONDS = 0.05;

/** One run of one variant: server CPU µs per response over the window from the first byte sent to the last answer. */
async function measure(server, settings) {
  const paths = requestPaths(VARIANTS[server.name].routes);
  await pipelinedLoad(server.port, { ...settings, seconds: RUN_IN_SECONDS, paths });
  let before;
  const load = await pipelinedLoad(server.port, {
    ...settings,
    paths,
    ready: async () => {
      before = await server.ask('cpu');
    },
  });
  const after = await server.ask('cpu');
  const cpuUs = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  const wallMs = after.wall - before.wall;
  return {
    requests: load.responses,
    reqPerSec: load.responses / (wallMs / 1000),
    cpuUsPerReq: load.responses > 0 ? cpuUs / load.responses : Number.NaN,
    busy: cpuUs / 1000 / wallMs,
    errors: load.errors,
  };
}

/**
 * Fastify's requests cost a sixth of Express's, and so does their noise in µs: its groups run every third
 * round, which leaves the time to Express, whose interval is the one to bring within the target.
 */
const FASTIFY_STRIDE = 3;

/**
 * Runs up to `rounds` rounds and stops early, after `minRounds`, once the 95% interval of every one-route
 * routemeter variant is within ±`precisionUs`, or once `budgetSeconds` have gone by.
 * @param {{ variants: string[], rounds: number, minRounds: number, precisionUs: number, budgetSeconds: number,
 *           seconds: number, warmupSeconds: number, connections: number, pipelining: number,
 *           log: (line: string) => void }} options
 */
export async function runOverhead({
  variants,
  rounds,
  minRounds = rounds,
  precisionUs = 0,
  budgetSeconds = Number.POSITIVE_INFINITY,
  seconds,
  warmupSeconds,
  connections,
  pipelining,
  log,
}) {
  const settings = { seconds, connections, pipelining };
  const started = await Promise.allSettled(variants.map((name) => startServer(name, { nodeArgs: SERVER_FLAGS })));
  const servers = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const byName = Object.fromEntries(servers.map((server) => [server.name, server]));
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const server of servers) {
      log(`  warm-up ${server.name} (${warmupSeconds} s)`);
      const paths = requestPaths(VARIANTS[server.name].routes);
      await pipelinedLoad(server.port, { ...settings, seconds: warmupSeconds, paths });
    }
    // Each baseline and the variants measured against it.
    const groups = new Map();
    for (const name of variants) {
      const base = baselineOf(name);
      if (base === name) continue;
      if (!groups.has(base)) groups.set(base, []);
      groups.get(base).push(name);
    }
    const watched = variants.filter((name) => VARIANTS[name].ours && VARIANTS[name].routes === undefined);
    const runs = Object.fromEntries(variants.map((name) => [name, []]));
    const next = random(2026);
    const start = performance.now();
    // Round -1 runs every group and is not counted: each server's first turn after the warm-ups came out slow.
    let round = -1;
    for (; round < rounds; round++) {
      const due = [...groups].filter(
        ([base]) => round < 0 || round % (VARIANTS[base].framework === 'fastify' ? FASTIFY_STRIDE : 1) === 0,
      );
      for (const [base, members] of shuffle(due, next)) {
        let previous = await measure(byName[base], settings);
        runs[base].push({ round, ...previous });
        for (const name of shuffle(members, next)) {
          const run = await measure(byName[name], settings);
          const after = await measure(byName[base], settings);
          runs[base].push({ round, ...after });
          const bareUs = (previous.cpuUsPerReq + after.cpuUsPerReq) / 2;
          const bareReqPerSec = (previous.reqPerSec + after.reqPerSec) / 2;
          runs[name].push({ round, ...run, addedUs: run.cpuUsPerReq - bareUs, ratio: run.reqPerSec / bareReqPerSec });
          previous = after;
        }
      }
      if (round < 0) {
        for (const name of variants) runs[name].length = 0;
        continue;
      }
      const widths = watched.map((name) => {
        const { low, high } = bootstrapMedian(
          runs[name].map((r) => r.addedUs),
          { resamples: 500 },
        );
        return { name, halfWidth: (high - low) / 2 };
      });
      const elapsed = (performance.now() - start) / 1000;
      log(
        `  round ${round + 1}/${rounds} (${fmt(elapsed, 0)} s) 95% interval ±: ${widths.map((w) => `${w.name} ${fmt(w.halfWidth, 1)} µs`).join(', ')}`,
      );
      if (round + 1 >= minRounds && widths.every((w) => w.halfWidth <= precisionUs)) {
        round++;
        break;
      }
      if (elapsed > budgetSeconds) {
        log(`  time budget of ${budgetSeconds} s used: stopping after ${round + 1} rounds`);
        round++;
        break;
      }
    }
    const memory = {};
    for (const server of servers) memory[server.name] = await server.ask('mem');
    return summarize(variants, runs, memory, { ...settings, rounds: round, precisionUs, budgetSeconds });
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/** Per variant: medians over its runs; for all but baselines, the paired added cost with its bootstrap interval. */
function summarize(variants, runs, memory, settings) {
  const rows = variants.map((name) => {
    const own = runs[name];
    const isBase = baselineOf(name) === name;
    const added = isBase ? undefined : bootstrapMedian(own.map((r) => r.addedUs));
    return {
      name,
      label: VARIANTS[name].label,
      framework: VARIANTS[name].framework,
      routes: VARIANTS[name].routes ?? 1,
      baseline: baselineOf(name),
      reqPerSec: median(own.map((r) => r.reqPerSec)),
      cpuUsPerReq: median(own.map((r) => r.cpuUsPerReq)),
      addedUs: isBase ? 0 : added.median,
      addedUsInterval: isBase ? [0, 0] : [added.low, added.high],
      ratio: isBase ? 1 : median(own.map((r) => r.ratio)),
      busy: median(own.map((r) => r.busy)),
      errors: own.reduce((sum, r) => sum + r.errors, 0),
      rssMB: memory[name].rss / MB,
      heapUsedMB: memory[name].heapUsed / MB,
      runs: own,
    };
  });
  return { settings, rows };
}

const interval = (r) => `**${fmt(r.addedUs, 1)}** [${fmt(r.addedUsInterval[0], 1)}, ${fmt(r.addedUsInterval[1], 1)}]`;

/** The one-route app: every variant beside its bare framework, with memory. */
export function overheadTable({ rows }) {
  return table(
    [
      'variant',
      'CPU µs/req',
      'µs added vs bare [95% interval]',
      'req/s',
      'ratio to bare',
      'RSS MB',
      'heap MB',
      'server busy',
      'errors',
    ],
    rows
      .filter((r) => r.routes === 1)
      .map((r) => [
        r.label,
        fmt(r.cpuUsPerReq, 1),
        VARIANTS[r.name].bare ? '—' : interval(r),
        fmt(r.reqPerSec, 0),
        fmt(r.ratio, 2),
        fmt(r.rssMB, 0),
        fmt(r.heapUsedMB, 1),
        `${fmt(r.busy * 100, 0)}%`,
        String(r.errors),
      ]),
  );
}

/** routemeter's added cost as the app grows: 1, 100 and 1,000 routes, the load spread over all of them. */
export function curveTable({ rows }) {
  const cell = (framework, routes) => {
    const r = rows.find((x) => x.framework === framework && x.routes === routes && VARIANTS[x.name].ours);
    return r === undefined ? 'n/a' : interval(r);
  };
  const bare = (framework, routes) => {
    const r = rows.find((x) => x.framework === framework && x.routes === routes && VARIANTS[x.name].bare);
    return r === undefined ? 'n/a' : fmt(r.cpuUsPerReq, 1);
  };
  const sizes = [1, ...CURVE_ROUTES];
  return table(
    [
      'routes',
      'Express bare CPU µs/req',
      'routemeter µs added [95%]',
      'Fastify bare CPU µs/req',
      'routemeter µs added [95%]',
    ],
    sizes.map((routes) => [
      routes.toLocaleString('en'),
      bare('express', routes),
      cell('express', routes),
      bare('fastify', routes),
      cell('fastify', routes),
    ]),
  );
}
