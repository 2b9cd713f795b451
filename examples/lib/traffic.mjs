// Varied, bounded traffic for the example services, and the RED report read back from Prometheus.
// Used by `npm run demo` and by the end-to-end tests.

/** A small deterministic PRNG (mulberry32), so that a seed reproduces a run's mix of requests. */
export function random(seed = Date.now()) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ORGS = ['acme', 'globex', 'initech', 'umbrella'];
const REPOS = ['web', 'api', 'infra', 'docs', 'mobile'];
const pick = (rand, list) => list[Math.floor(rand() * list.length)];

/**
 * What the traffic is made of: each kind names the route label routemeter must record it under.
 * Weights are relative. Slow and streamed requests are few, so the run stays fast.
 */
export const REQUEST_KINDS = Object.freeze([
  { route: '/users/:id', weight: 30, method: 'GET', path: (r) => `/users/${1 + Math.floor(r() * 500)}` },
  {
    route: '/orgs/:org/repos/:repo',
    weight: 15,
    method: 'GET',
    path: (r) => `/orgs/${pick(r, ORGS)}/repos/${pick(r, REPOS)}`,
  },
  {
    route: '/orgs/:org/repos/:repo/stars',
    weight: 8,
    method: 'GET',
    path: (r) => `/orgs/${pick(r, ORGS)}/repos/${pick(r, REPOS)}/stars`,
  },
  { route: '/slow', weight: 5, method: 'GET', path: () => '/slow' },
  { route: '/slow', weight: 0.5, method: 'GET', path: () => '/slow?ms=1200' },
  { route: '/orders', weight: 10, method: 'POST', path: () => '/orders' },
  { route: '/orders', weight: 2, method: 'POST', path: () => '/orders?fail=1' },
  { route: '/stream', weight: 3, method: 'GET', path: () => '/stream?chunks=5' },
  { route: '#unmatched', weight: 3, method: 'GET', path: (r) => `/no/such/page/${Math.floor(r() * 1e6)}` },
]);

const TOTAL_WEIGHT = REQUEST_KINDS.reduce((sum, kind) => sum + kind.weight, 0);

function pickKind(rand) {
  let x = rand() * TOTAL_WEIGHT;
  for (const kind of REQUEST_KINDS) {
    x -= kind.weight;
    if (x < 0) return kind;
  }
  return REQUEST_KINDS[0];
}

/**
 * Sends requests to every service from `concurrency` loops each, until `durationMs` has passed, `maxRequests`
 * have been sent in all, or `signal` aborts. Each request times out after 10 s. Resolves to what was sent and
 * answered: `counts[job][route] = { requests, errors }` (errors: 5xx answers), plus totals.
 */
export async function sendTraffic(services, options = {}) {
  const {
    durationMs = 20_000,
    maxRequests = 50_000,
    concurrency = 4,
    seed = Date.now(),
    signal,
    onProgress,
    progressEveryMs = 250,
  } = options;
  const rand = random(seed);
  const started = Date.now();
  const deadline = started + durationMs;
  const counts = Object.fromEntries(services.map((s) => [s.job, {}]));
  const totals = { sent: 0, answered: 0, failed: 0 };
  const stopped = () => signal?.aborted || Date.now() >= deadline || totals.sent >= maxRequests;

  async function loop(service) {
    while (!stopped()) {
      const kind = pickKind(rand);
      totals.sent++;
      try {
        const res = await fetch(`${service.url}${kind.path(rand)}`, {
          method: kind.method,
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(10_000)]) : AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        counts[service.job][kind.route] ??= { requests: 0, errors: 0 };
        const entry = counts[service.job][kind.route];
        entry.requests++;
        if (res.status >= 500) entry.errors++;
        totals.answered++;
      } catch {
        // Aborted, timed out or refused: not answered, so not expected in the metrics either.
        totals.failed++;
      }
    }
  }

  const timer = onProgress
    ? setInterval(() => onProgress({ elapsedMs: Date.now() - started, durationMs, ...totals }), progressEveryMs)
    : undefined;
  try {
    await Promise.all(services.flatMap((service) => Array.from({ length: concurrency }, () => loop(service))));
  } finally {
    clearInterval(timer);
  }
  const elapsedMs = Date.now() - started;
  onProgress?.({ elapsedMs, durationMs, ...totals, done: true });
  return { counts, totals, elapsedMs };
}

/** `[####......]  12 s / 20 s   3456 requests` */
export function progressLine({ elapsedMs, durationMs, sent, failed }) {
  const width = 24;
  const done = Math.min(width, Math.round((elapsedMs / durationMs) * width));
  const seconds = (ms) => `${Math.min(ms, durationMs) / 1000}`.replace(/(\.\d).*/, '$1');
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${seconds(elapsedMs).padStart(5)} s / ${durationMs / 1000} s  ${sent} requests${failed ? `, ${failed} unanswered` : ''}`;
}

const byJobRoute = (results, pick = (r) => Number(r.value[1])) =>
  new Map(results.map((r) => [`${r.metric.job}\u0000${r.metric.route}`, pick(r)]));

/** A quantile of every job and route since start, from the classic buckets or the native histogram. */
const quantileSinceStart = (q) =>
  `histogram_quantile(${q}, sum by (job, route, le) (http_request_duration_seconds_bucket))` +
  ` or histogram_quantile(${q}, sum by (job, route) (http_request_duration_seconds))`;

/**
 * The RED numbers of every job and route from Prometheus, over the services' whole life (their counters
 * start at zero with the process): requests, req/s over `seconds`, error %, p50 and p99 in ms.
 */
export async function redReport(prometheus, seconds) {
  const [requests, errors, p50, p99] = await Promise.all([
    prometheus.query('sum by (job, route) (http_requests_total)'),
    prometheus.query('sum by (job, route) (http_requests_total{status_code=~"5.."})'),
    prometheus.query(quantileSinceStart(0.5)),
    prometheus.query(quantileSinceStart(0.99)),
  ]);
  const errorsOf = byJobRoute(errors);
  const p50Of = byJobRoute(p50);
  const p99Of = byJobRoute(p99);
  return requests
    .map((r) => {
      const key = `${r.metric.job}\u0000${r.metric.route}`;
      const count = Number(r.value[1]);
      return {
        job: r.metric.job,
        route: r.metric.route,
        requests: count,
        perSecond: count / seconds,
        errorRatio: (errorsOf.get(key) ?? 0) / count,
        p50ms: (p50Of.get(key) ?? Number.NaN) * 1000,
        p99ms: (p99Of.get(key) ?? Number.NaN) * 1000,
      };
    })
    .sort((a, b) => a.job.localeCompare(b.job) || a.route.localeCompare(b.route));
}

/** The report as an aligned text table, one block per service. */
export function formatRedTable(rows) {
  const header = ['service', 'route', 'requests', 'req/s', 'error %', 'p50 ms', 'p99 ms'];
  const cells = rows.map((r) => [
    r.job,
    r.route,
    String(r.requests),
    r.perSecond.toFixed(1),
    (r.errorRatio * 100).toFixed(1),
    Number.isFinite(r.p50ms) ? r.p50ms.toFixed(1) : '-',
    Number.isFinite(r.p99ms) ? r.p99ms.toFixed(1) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous;
  for (const [i, c] of cells.entries()) {
    if (previous !== undefined && rows[i].job !== previous) out.push('');
    previous = rows[i].job;
    out.push(line(c));
  }
  return out.join('\n');
}

/** Alerts Prometheus holds now (pending or firing), from its HTTP API. */
export async function activeAlerts(prometheus) {
  const { alerts } = await prometheus.api('/api/v1/alerts');
  return alerts.map((a) => ({
    name: a.labels.alertname,
    state: a.state,
    labels: a.labels,
    summary: a.annotations.summary ?? '',
    activeAt: a.activeAt,
  }));
}
