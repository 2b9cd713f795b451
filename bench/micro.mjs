// Micro: the recording path alone, in ns per recorded request, for a realistic label mix.
// Calls core's meters directly (as the adapters do) and, for scale, prom-client used the way the peers
// use it (a label object per request) and at its best (labels() children resolved once).
// `runMicro` runs this file as its own process pinned to the server core; it prints JSON on stdout.
import { fileURLToPath } from 'node:url';
import { runPinnedJson } from './lib/child.mjs';
import { random } from './lib/load.mjs';
import { fmt, median, table } from './lib/stats.mjs';

const MIX_SIZE = 4096;

const pick = (next, weighted) => {
  let r = next() * weighted.reduce((sum, [, w]) => sum + w, 0);
  for (const [value, weight] of weighted) {
    r -= weight;
    if (r < 0) return value;
  }
  return weighted[weighted.length - 1][0];
};

/** 50 route templates; methods and statuses weighted like a typical API; durations 0.5 ms–2 s, log-uniform. */
function labelMix() {
  const next = random(42);
  const methods = [
    ['GET', 70],
    ['POST', 15],
    ['PUT', 8],
    ['DELETE', 5],
    ['PATCH', 2],
  ];
  const statuses = [
    [200, 80],
    [201, 6],
    [204, 3],
    [304, 3],
    [404, 5],
    [500, 2],
    [503, 1],
  ];
  return Array.from({ length: MIX_SIZE }, () => ({
    method: pick(next, methods),
    route: `/api/v1/resource${Math.floor(next() * 50)}/:id`,
    status: pick(next, statuses),
    seconds: 0.0005 * 4000 ** next(),
  }));
}

function time(iterations, batches, body) {
  const results = [];
  body(Math.min(iterations, 200_000)); // warm-up: let the JIT settle
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    body(iterations);
    results.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return { nsPerRequest: median(results), batches: results };
}

async function measureAll({ iterations, batches }) {
  const { Counter, Histogram, Registry } = await import('prom-client');
  const { DEFAULT_DURATION_BUCKETS } = await import('@routemeter/core');
  const { createRecorder } = await import('@routemeter/core/adapter');
  const mix = labelMix();
  const mask = MIX_SIZE - 1;
  const req = {};
  const res = {};
  const noSizes = { requestSize: () => undefined, responseSize: () => undefined };
  const cases = {};

  {
    // Express adapter's path: the method's recorder per request, the route template given at finish.
    const meter = createRecorder({ registry: new Registry(), defaultMetrics: false }, noSizes);
    cases['routemeter MethodRecorder (Express path)'] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const r = mix[i & mask];
        const m = meter.method(r.method);
        m.start();
        m.finish(r.route, r.status, r.seconds, req, res);
      }
    });
  }
  for (const [name, options] of [
    ['routemeter MethodRecorder, nativeHistograms (classic + native)', { nativeHistograms: true }],
    ['routemeter MethodRecorder, native only (buckets: [])', { nativeHistograms: true, buckets: [] }],
  ]) {
    // The Express path again, with native buckets: the cost of the bucket index and the sparse window.
    const meter = createRecorder({ registry: new Registry(), defaultMetrics: false, ...options }, noSizes);
    cases[name] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const r = mix[i & mask];
        const m = meter.method(r.method);
        m.start();
        m.finish(r.route, r.status, r.seconds, req, res);
      }
    });
  }
  {
    // Fastify adapter's path: one RouteRecorder per route, made when the route is added.
    const meter = createRecorder({ registry: new Registry(), defaultMetrics: false }, noSizes);
    const routeRecorders = new Map();
    const bound = mix.map((r) => {
      const key = `${r.method} ${r.route}`;
      if (!routeRecorders.has(key)) routeRecorders.set(key, meter.route([r.method], r.route));
      return routeRecorders.get(key);
    });
    cases['routemeter RouteRecorder (Fastify path)'] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const r = mix[i & mask];
        const m = bound[i & mask];
        m.start(r.method);
        m.finish(r.method, r.status, r.seconds, req, res);
      }
    });
  }
  {
    // The Express path with one custom label read per request (four values): the label-set tree walk.
    const tiers = ['free', 'pro', 'team', 'enterprise'];
    const meter = createRecorder(
      { registry: new Registry(), defaultMetrics: false, labels: { tier: (r) => tiers[r.tier] } },
      noSizes,
    );
    const reqs = mix.map((_, i) => ({ tier: i & 3 }));
    cases['routemeter MethodRecorder, one custom label'] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const r = mix[i & mask];
        const m = meter.method(r.method);
        m.start();
        m.finish(r.route, r.status, r.seconds, reqs[i & mask], res);
      }
    });
  }
  {
    // prom-client at its best: children from labels() resolved once; it still re-hashes the labels per call.
    const registry = new Registry();
    const labelNames = ['method', 'route', 'status_code'];
    const counter = new Counter({ name: 'c', help: 'c', labelNames, registers: [registry] });
    const histogram = new Histogram({
      name: 'h',
      help: 'h',
      labelNames,
      buckets: [...DEFAULT_DURATION_BUCKETS],
      registers: [registry],
    });
    const children = mix.map((r) => {
      const labels = { method: r.method, route: r.route, status_code: String(r.status) };
      return { c: counter.labels(labels), h: histogram.labels(labels) };
    });
    cases['prom-client labels() children resolved once'] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const child = children[i & mask];
        child.c.inc();
        child.h.observe(mix[i & mask].seconds);
      }
    });
  }
  {
    // How the peers record: a label object per request, hashed by prom-client on every call.
    const registry = new Registry();
    const labelNames = ['method', 'route', 'status_code'];
    const counter = new Counter({ name: 'c', help: 'c', labelNames, registers: [registry] });
    const histogram = new Histogram({
      name: 'h',
      help: 'h',
      labelNames,
      buckets: [...DEFAULT_DURATION_BUCKETS],
      registers: [registry],
    });
    cases['prom-client with a label object per request (peers)'] = time(iterations, batches, (n) => {
      for (let i = 0; i < n; i++) {
        const r = mix[i & mask];
        const labels = { method: r.method, route: r.route, status_code: r.status };
        counter.inc(labels);
        histogram.observe(labels, r.seconds);
      }
    });
  }
  return cases;
}

/** Runs the micro bench in its own process on the server core. */
export async function runMicro({ iterations, batches }) {
  const args = ['--worker', String(iterations), String(batches)];
  const cases = await runPinnedJson(fileURLToPath(import.meta.url), args, 'micro bench');
  return { iterations, batches, mixSize: MIX_SIZE, cases };
}

export function microTable({ cases }) {
  return table(
    ['recording path', 'ns per request (median of batches)', 'batches min–max'],
    Object.entries(cases).map(([name, { nsPerRequest, batches }]) => [
      name,
      `**${fmt(nsPerRequest, 0)}**`,
      `${fmt(Math.min(...batches), 0)}–${fmt(Math.max(...batches), 0)}`,
    ]),
  );
}

if (process.argv[2] === '--worker') {
  const cases = await measureAll({ iterations: Number(process.argv[3]), batches: Number(process.argv[4]) });
  process.stdout.write(JSON.stringify(cases));
}
