// In-process cross-check of the overhead bench: the same apps driven without sockets (light-my-request for
// Express, Fastify's own `inject`), so what is left is the framework and the metrics code, without the
// kernel, the network stack or a load generator. Bare, floor and routemeter of each framework live in one
// process pinned to the server core and take turns in every batch (order shuffled); the added CPU µs per
// request is the paired difference with the same batch's bare app, its median and bootstrap 95% interval.
// `runInProcess` runs this file as its own process; it prints JSON on stdout.
import { fileURLToPath } from 'node:url';
import { runPinnedJson } from './lib/child.mjs';
import { bootstrapMedian, fmt, median, random, shuffle, table } from './lib/stats.mjs';
import { requestPaths, startVariant, VARIANTS } from './lib/variants.mjs';

/** Bare first: @routemeter/express patches Router.prototype.use when imported, which the bare app must not see. */
const APPS = {
  express: ['express-bare', 'express-noop', 'express-routemeter'],
  fastify: ['fastify-bare', 'fastify-hook', 'fastify-routemeter'],
};
/** Requests in flight at once, so that promise bookkeeping is amortized as it is under pipelined load. */
const IN_FLIGHT = 16;

async function drive(app, paths, requests) {
  for (let sent = 0; sent < requests; sent += IN_FLIGHT) {
    const wave = [];
    for (let i = 0; i < IN_FLIGHT; i++) wave.push(app.inject(paths[(sent + i) % paths.length]));
    for (const response of await Promise.all(wave))
      if (response.statusCode !== 200) throw new Error(`inject answered ${response.statusCode}`);
  }
}

async function measureAll({ batches, requests }) {
  const paths = requestPaths(1);
  const next = random(7);
  const results = {};
  for (const names of Object.values(APPS)) {
    const apps = [];
    for (const name of names) apps.push({ name, inject: (await startVariant(name, { listen: false })).inject });
    for (const app of apps) await drive(app, paths, requests); // warm-up: let the JIT settle
    const runs = Object.fromEntries(names.map((name) => [name, []]));
    for (let b = 0; b < batches; b++) {
      for (const app of shuffle(apps, next)) {
        const before = process.cpuUsage();
        await drive(app, paths, requests);
        const cpu = process.cpuUsage(before);
        runs[app.name].push((cpu.user + cpu.system) / requests);
      }
    }
    const [bare] = names;
    for (const name of names) {
      const added = runs[name].map((us, b) => us - runs[bare][b]);
      const { low, high, median: addedUs } = bootstrapMedian(added);
      results[name] = {
        cpuUsPerReq: median(runs[name]),
        addedUs: name === bare ? 0 : addedUs,
        addedUsInterval: name === bare ? [0, 0] : [low, high],
        runs: runs[name],
      };
    }
  }
  return results;
}

/** Runs the cross-check in its own process on the server core. */
export async function runInProcess({ batches, requests }) {
  const args = ['--worker', String(batches), String(requests)];
  const variants = await runPinnedJson(fileURLToPath(import.meta.url), args, 'in-process bench');
  return { batches, requests, variants };
}

/** Beside the socket figures of the overhead bench, when it ran. */
export function inProcessTable({ variants }, overheadRows = []) {
  const interval = (r) => `**${fmt(r.addedUs, 1)}** [${fmt(r.addedUsInterval[0], 1)}, ${fmt(r.addedUsInterval[1], 1)}]`;
  return table(
    ['variant', 'in-process CPU µs/req', 'µs added, in-process [95%]', 'µs added over sockets [95%]'],
    Object.entries(variants).map(([name, r]) => {
      const socket = overheadRows.find((row) => row.name === name);
      const bare = VARIANTS[name].bare;
      return [
        VARIANTS[name].label,
        fmt(r.cpuUsPerReq, 1),
        bare ? '—' : interval(r),
        bare || socket === undefined ? '—' : interval(socket),
      ];
    }),
  );
}

if (process.argv[2] === '--worker') {
  const variants = await measureAll({ batches: Number(process.argv[3]), requests: Number(process.argv[4]) });
  process.stdout.write(JSON.stringify(variants));
}
