// The provisioned dashboard JSON is exactly what dashboard.ts builds: edit the builder, then regenerate with
// `pnpm --filter @routemeter/example-grafana run generate`. Its queries are run against Prometheus in e2e.test.ts.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_FILE, dashboardJson } from './dashboard.ts';

describe('examples/grafana dashboard', () => {
  it('dashboards/routemeter.json is up to date with dashboard.ts', async () => {
    const committed = await readFile(DASHBOARD_FILE, 'utf8');
    const generated = dashboardJson();
    expect(
      committed === generated,
      'dashboards/routemeter.json differs from dashboard.ts: run `pnpm --filter @routemeter/example-grafana run generate`',
    ).toBe(true);
  });

  it('is a RED dashboard with job, route and pod variables and a datasource variable on every query', () => {
    const dashboard = JSON.parse(dashboardJson());
    expect(dashboard.uid).toBe('routemeter-red');
    expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toEqual([
      'datasource',
      'job',
      'route',
      'pod',
    ]);
    // "All" pods matches series without a pod label too (targets outside Kubernetes).
    expect(dashboard.templating.list.find((v: { name: string }) => v.name === 'pod').allValue).toBe('.*');
    const panels = dashboard.panels.filter((p: { type: string }) => p.type !== 'row');
    const titles = panels.map((p: { title: string }) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Requests per second by route',
        'Error ratio (5xx) by route',
        'Latency percentiles by route',
        'Requests in flight',
        'CPU (cores used)',
        'Memory',
      ]),
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    const datasource = { type: 'prometheus', uid: '${datasource}' };
    for (const panel of panels) {
      expect(panel.datasource).toEqual(datasource);
      for (const target of panel.targets) {
        expect(target.datasource).toEqual(datasource);
        expect(target.expr).toMatch(/\{job=~"\$job"/);
        // Every query can be narrowed to the pods picked.
        expect(target.expr).toContain('pod=~"$pod"');
      }
    }
  });
});
