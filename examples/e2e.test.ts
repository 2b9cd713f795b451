// End to end: the example services (from the sources) and a real Prometheus running the example config and
// rules, with bounded traffic. Prometheus must count exactly what was sent, per service and route; the recording
// rules must evaluate; every query of the Grafana dashboard must run and return data.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED_ROUTES } from './expected-routes.js';
import { EXAMPLES, RULES_DIR, SERVICES, startStack } from './lib/stack.mjs';
import { sendTraffic } from './lib/traffic.mjs';

type Stack = Awaited<ReturnType<typeof startStack>>;
type Sent = Awaited<ReturnType<typeof sendTraffic>>;
interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

let stack: Stack;
let sent: Sent;

beforeAll(async () => {
  stack = await startStack({ source: true, interval: '500ms' });
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
const byJobRoute = (samples: PromSample[]) =>
  Object.fromEntries(samples.map((s) => [`${s.metric.job} ${s.metric.route}`, Number(s.value[1])]));

describe('the example stack', () => {
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
    expect(byJobRoute(await query('sum by (job, route) (http_request_duration_seconds_count)'))).toEqual(expected);
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
        expect({ rule: rule.name, health: rule.health }).toEqual({ rule: rule.name, health: 'ok' });
    }
  });

  it('the recording rules give every service and route a value', async () => {
    const text = await readFile(join(RULES_DIR, 'recording.yml'), 'utf8');
    const records = [...text.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1] as string);
    expect(records.length).toBe(9);
    for (const record of records) {
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
