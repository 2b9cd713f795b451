// End to end: the example services (from the sources) and a real Prometheus running the example config and
// rules, with bounded traffic. Prometheus must count exactly what was sent, per service and route; the recording
// rules must evaluate; every query of the Grafana dashboard must run and return data. All of it twice: with
// classic histograms, and with native ones (`npm run demo -- --native-histograms`), where Prometheus 2.42 keeps
// no classic series of the duration histogram, so every latency rule and panel must read the native histogram.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED_ROUTES } from './expected-routes.js';
import { EXAMPLES, RULES_DIR, SERVICES, startStack } from './lib/stack.mjs';
import { redReport, sendTraffic } from './lib/traffic.mjs';

type Stack = Awaited<ReturnType<typeof startStack>>;
type Sent = Awaited<ReturnType<typeof sendTraffic>>;
interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

const byJobRoute = (samples: PromSample[]) =>
  Object.fromEntries(samples.map((s) => [`${s.metric.job} ${s.metric.route}`, Number(s.value[1])]));

describe.each([
  { mode: 'classic histograms', nativeHistograms: false },
  { mode: 'native histograms', nativeHistograms: true },
])('the example stack, $mode', ({ nativeHistograms }) => {
  let stack: Stack;
  let sent: Sent;

  beforeAll(async () => {
    stack = await startStack({ source: true, interval: '500ms', nativeHistograms });
    await stack.prometheus.waitForScrapes();
    sent = await sendTraffic(stack.services, { durationMs: 4000, maxRequests: 3000, concurrency: 3, seed: 5 });
    const since = Date.now();
    await stack.prometheus.waitForScrapes(since);
    await stack.prometheus.waitForRules(since);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  const query = (expr: string): Promise<PromSample[]> => stack.prometheus.query(expr);

  it('sent a bounded mix of requests, every one answered', () => {
    expect(sent.totals.failed).toBe(0);
    expect(sent.totals.answered).toBe(sent.totals.sent);
    expect(sent.totals.sent).toBeGreaterThan(100);
    expect(sent.totals.sent).toBeLessThanOrEqual(3000);
    for (const { job } of SERVICES) {
      expect(Object.keys(sent.counts[job] ?? {}).sort()).toEqual([...EXPECTED_ROUTES].sort());
    }
  });

  it('Prometheus counts exactly the requests sent, per service and route', async () => {
    const expected: Record<string, number> = {};
    for (const [job, routes] of Object.entries(sent.counts)) {
      for (const [route, { requests }] of Object.entries(routes)) expected[`${job} ${route}`] = requests;
    }
    expect(byJobRoute(await query('sum by (job, route) (http_requests_total)'))).toEqual(expected);
    // The histogram counts the same requests.
    const histogramCount = nativeHistograms
      ? 'sum by (job, route) (histogram_count(http_request_duration_seconds))'
      : 'sum by (job, route) (http_request_duration_seconds_count)';
    expect(byJobRoute(await query(histogramCount))).toEqual(expected);
  });

  it(`Prometheus keeps ${nativeHistograms ? 'the native histogram only' : 'the classic buckets only'}`, async () => {
    const classic = await query('count(http_request_duration_seconds_bucket)');
    const native = await query('count(histogram_count(http_request_duration_seconds))');
    expect({ classic: classic.length > 0, native: native.length > 0 }).toEqual({
      classic: !nativeHistograms,
      native: nativeHistograms,
    });
  });

  it("the demo's RED table has percentiles for every service and route", async () => {
    const rows = await redReport(stack.prometheus, 4);
    expect(rows.map((r) => `${r.job} ${r.route}`).sort()).toEqual(
      SERVICES.flatMap(({ job }) => Object.keys(sent.counts[job] ?? {}).map((route) => `${job} ${route}`)).sort(),
    );
    for (const row of rows) {
      expect({
        row: `${row.job} ${row.route}`,
        finite: Number.isFinite(row.p50ms) && Number.isFinite(row.p99ms),
      }).toEqual({ row: `${row.job} ${row.route}`, finite: true });
      expect(row.p50ms).toBeLessThanOrEqual(row.p99ms);
    }
    // /slow sleeps 50-400 ms (1,200 ms now and then): its percentiles lie in that range, widened by one bucket
    // (classic buckets: the bounds around it; native: 9%).
    for (const slow of rows.filter((r) => r.route === '/slow')) {
      expect(slow.p50ms).toBeGreaterThanOrEqual(nativeHistograms ? 45 : 25);
      expect(slow.p99ms).toBeLessThanOrEqual(nativeHistograms ? 1320 : 2500);
    }
  });

  it('Prometheus counts the 5xx answers per route', async () => {
    const expected: Record<string, number> = {};
    for (const [job, routes] of Object.entries(sent.counts)) {
      for (const [route, { errors }] of Object.entries(routes)) if (errors > 0) expected[`${job} ${route}`] = errors;
    }
    expect(Object.keys(expected).every((key) => key.endsWith(' /orders'))).toBe(true);
    expect(byJobRoute(await query('sum by (job, route) (http_requests_total{status_code=~"5.."})'))).toEqual(expected);
  });

  it("serves the app's business counter and the in-flight gauge on the same /metrics", async () => {
    const orders = await query('sum by (job) (shop_orders_total)');
    expect(Object.fromEntries(orders.map((s) => [s.metric.job, Number(s.value[1])]))).toEqual(
      Object.fromEntries(SERVICES.map(({ job }) => [job, sent.counts[job]?.['/orders']?.requests])),
    );
    const inFlight = await query('sum by (job) (http_requests_in_flight)');
    expect(inFlight.map((s) => s.metric.job).sort()).toEqual(SERVICES.map((s) => s.job).sort());
  });

  it('loads every rule file, and every rule evaluates without error', async () => {
    const { groups } = await stack.prometheus.api('/api/v1/rules');
    expect(groups.map((g: { name: string }) => g.name).sort()).toEqual([
      'routemeter-alerts',
      'routemeter-red',
      'routemeter-red-by-service',
    ]);
    for (const group of groups) {
      for (const rule of group.rules)
        expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({
          rule: rule.name,
          health: 'ok',
          error: '',
        });
    }
  });

  it('the recording rules give every service and route a value', async () => {
    const text = await readFile(join(RULES_DIR, 'recording.yml'), 'utf8');
    const records = [...text.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1] as string);
    expect(records.length).toBe(9);
    // The per-service bucket aggregate is of classic buckets only (recording.yml says why).
    const classicOnly = 'service_route_le:http_request_duration_seconds_bucket:rate1m';
    expect(records).toContain(classicOnly);
    if (nativeHistograms) expect(await query(classicOnly)).toEqual([]);
    for (const record of records.filter((r) => !nativeHistograms || r !== classicOnly)) {
      // The job_route: rules are per job, the service_route: ones per `service` (the job's targets' label here).
      const values = Object.fromEntries(
        (await query(record)).map((s) => [`${s.metric.job ?? s.metric.service} ${s.metric.route}`, Number(s.value[1])]),
      );
      for (const { job } of SERVICES) {
        for (const route of Object.keys(sent.counts[job] ?? {})) {
          expect({ record, series: `${job} ${route}`, value: Number.isFinite(values[`${job} ${route}`]) }).toEqual({
            record,
            series: `${job} ${route}`,
            value: true,
          });
        }
      }
    }
    // Only /orders fails.
    const ratios = byJobRoute(await query('job_route:http_request_errors:ratio_rate1m'));
    for (const [series, ratio] of Object.entries(ratios)) {
      if (series.endsWith(' /orders')) expect(ratio).toBeGreaterThan(0);
      else expect(ratio).toBe(0);
    }
  });

  describe('the Grafana dashboard', () => {
    interface Target {
      expr: string;
      refId: string;
    }
    interface Panel {
      type: string;
      title: string;
      targets?: Target[];
    }

    const dashboardFile = join(EXAMPLES, 'grafana', 'dashboards', 'routemeter.json');
    /** What Grafana would send with every job, every route and every pod ("All": none here) selected. */
    const substitute = (expr: string) =>
      expr
        .replaceAll('$job', '(express-service|fastify-service|nestjs-service)')
        .replaceAll('$route', '.+')
        .replaceAll('$pod', '.*')
        .replaceAll('$__rate_interval', '30s')
        .replaceAll('$__interval', '5s');

    it('has queries on every panel but rows', async () => {
      const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8'));
      const panels: Panel[] = dashboard.panels.filter((p: Panel) => p.type !== 'row');
      expect(panels.length).toBeGreaterThanOrEqual(10);
      for (const panel of panels) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    });

    it('every panel query runs and returns data', async () => {
      const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8'));
      const targets = (dashboard.panels as Panel[]).flatMap((p) =>
        (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: substitute(t.expr) })),
      );
      for (const target of targets) {
        expect(target.expr, 'a variable was left unsubstituted').not.toMatch(/\$/);
        const result = await query(target.expr);
        const finite = result.filter((s) => Number.isFinite(Number(s.value[1])));
        expect({ ...target, series: finite.length > 0 }).toEqual({ ...target, series: true });
      }
    });

    it('the job and route variables list every service and every route; the pod variable no pod here', async () => {
      const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8'));
      const variables = Object.fromEntries(
        dashboard.templating.list.map((v: { name: string; query: string }) => [v.name, v.query]),
      );
      const labelValues = async (definition: string) => {
        const match = /^label_values\((.*), (\w+)\)$/.exec(definition);
        if (match === null) throw new Error(`not a label_values() query: ${definition}`);
        const [, selector, label] = match as unknown as [string, string, string];
        const { api } = stack.prometheus;
        return api(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(substitute(selector))}`);
      };
      expect(await labelValues(variables.job)).toEqual(['express-service', 'fastify-service', 'nestjs-service']);
      expect(await labelValues(variables.route)).toEqual(
        expect.arrayContaining(['#unmatched', '/orders', '/orgs/:org/repos/:repo', '/slow', '/stream', '/users/:id']),
      );
      // Outside Kubernetes no target has a pod label (examples/kubernetes/kubernetes.test.ts lists pods).
      expect(await labelValues(variables.pod)).toEqual([]);
    });
  });
});
