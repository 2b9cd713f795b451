// One variant's server process: `node bench/server.mjs <variant> [--scrape-routes]`, started by the bench
// with an IPC channel. It reports its port, then answers the bench's questions over IPC, so measuring
// adds no route, middleware or series to the app under test:
//   cpu    → process.cpuUsage() and the wall clock, read before and after each round
//   mem    → process.memoryUsage() after two full GCs (needs --expose-gc) and SETTLE_MS
//   loop   → max event-loop delay since the last `loop` (perf_hooks.monitorEventLoopDelay, 1 ms resolution),
//            and the longest of those stalls counting only the time this process ran (busyMs, see below)
//   series → distinct label sets of the request metrics in prom-client's registry
//   promText → prom-client's own rendering of the registry (register.metrics()) and how long it took
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startVariant } from './lib/variants.mjs';

const [name, ...flags] = process.argv.slice(2);
// Pipelined load puts more than 10 listeners on a socket in some variants: say each kind of warning once.
process.removeAllListeners('warning');
const warned = new Set();
process.on('warning', (warning) => {
  if (warned.has(warning.name)) return;
  warned.add(warning.name);
  console.warn(`${name}: ${warning.name}: ${warning.message} (further ones not shown)`);
});
if (process.send === undefined) throw new Error('bench/server.mjs runs under the bench, with an IPC channel');

const scrapeRoutes = flags.includes('--scrape-routes');
const server = await startVariant(name, { scrapeRoutes });
// Only the scrape bench reads the loop delay: a 1 ms timer in every idle server would steal from the loaded one.
const loop = monitorEventLoopDelay({ resolution: 1 });
if (scrapeRoutes) loop.enable();
// On a machine shared with other work, a stall can be the server waiting for the core. A 1 ms timer
// takes, for each gap between its runs, the CPU time the process used in it: the part of the stall that
// is the server's own work (its GC threads included).
let busyMs = 0;
if (scrapeRoutes) {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    busyMs = Math.max(busyMs, Math.min(now - last, (cpu.user + cpu.system) / 1000));
    last = now;
    lastCpu = process.cpuUsage();
  }, 1);
}

/** After the GCs, time for V8's background thread to release the freed pages. */
const SETTLE_MS = 250;

const handlers = {
  cpu: () => ({ cpu: process.cpuUsage(), wall: performance.now() }),
  mem: async () => {
    globalThis.gc?.();
    globalThis.gc?.();
    // V8 hands the pages a GC freed back to the system from a background thread: read RSS once it has
    // (right after gc() the same process read up to 40 MB more than 50 ms later).
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return process.memoryUsage();
  },
  loop: () => {
    const reply = { maxMs: loop.max / 1e6, busyMs };
    loop.reset();
    busyMs = 0;
    return reply;
  },
  series: async () => countSeries(),
  promText: async () => {
    const { register } = await import('prom-client');
    const start = performance.now();
    const text = await register.metrics();
    return { text, ms: performance.now() - start };
  },
  stop: () => {
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', async ({ id, cmd }) => {
  try {
    const reply = await handlers[cmd]();
    process.send({ id, ...reply });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));

process.send({ ready: true, port: server.address().port, pid: process.pid });

/**
 * Label sets (without `le`/`quantile`) of every metric that is not one of prom-client's process
 * metrics, i.e. the series a library adds for requests. All variants share one prom-client copy.
 */
async function countSeries() {
  const { register } = await import('prom-client');
  const byMetric = {};
  let total = 0;
  for (const metric of await register.getMetricsAsJSON()) {
    if (/^(process_|nodejs_)/.test(metric.name)) continue;
    const keys = new Set();
    for (const value of metric.values) {
      const { le: _le, quantile: _q, ...labels } = value.labels;
      keys.add(JSON.stringify(labels));
    }
    byMetric[metric.name] = keys.size;
    total += keys.size;
  }
  return { total, byMetric };
}
