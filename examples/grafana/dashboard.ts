// The routemeter RED dashboard, written with Grafana's typed builders (@grafana/grafana-foundation-sdk).
// dashboards/routemeter.json is generated from this file; edit here, then run:
//
//   pnpm --filter @routemeter/example-grafana run generate      (or: npx tsx examples/grafana/dashboard.ts)
//
// `--stdout` prints the JSON instead of writing it. A test fails when the committed JSON differs from this.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Where the provisioned dashboard lives (the compose file mounts this folder into Grafana). */
export const DASHBOARD_FILE = fileURLToPath(new URL('./dashboards/routemeter.json', import.meta.url));

// Grafana's own variable syntax, not a template literal: every query uses the data source picked in the UI.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable
const datasource = { type: 'prometheus', uid: '${datasource}' };

// Selectors shared by every routemeter panel: the job, route and pod variables are multi-value regexes.
const requests = 'http_requests_total{job=~"$job", route=~"$route", pod=~"$pod"}';
const errors = 'http_requests_total{job=~"$job", route=~"$route", pod=~"$pod", status_code=~"5.."}';
const buckets = 'http_request_duration_seconds_bucket{job=~"$job", route=~"$route", pod=~"$pod"}';
// The series of the app's process, per pod.
const processOf = (metric: string) => `${metric}{job=~"$job", pod=~"$pod"}`;
const window = '[$__rate_interval]';

const query = (refId: string, expr: string, legend: string) =>
  new DataqueryBuilder().refId(refId).datasource(datasource).expr(expr).legendFormat(legend);

const histogram = 'http_request_duration_seconds{job=~"$job", route=~"$route", pod=~"$pod"}';

// From the classic buckets or, where Prometheus ingests native histograms (which drops a native family's
// classic series), from the native histogram: one query for both, as the recording rules do.
const quantile = (q: number, by: readonly string[]) =>
  `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (rate(${buckets}${window}))) or ` +
  `histogram_quantile(${q}, sum${by.length > 0 ? ` by (${by.join(', ')})` : ''} (rate(${histogram}${window})))`;

const thresholds = (...steps: [value: number | null, color: string][]) =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));

const timeseries = (title: string, unit: string) =>
  new TimeseriesBuilder()
    .title(title)
    .datasource(datasource)
    .unit(unit)
    .height(8)
    .span(12)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['mean', 'max']),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending),
    );

const stat = (title: string, unit: string, expr: string) =>
  new StatBuilder()
    .title(title)
    .datasource(datasource)
    .unit(unit)
    .height(4)
    .span(6)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .withTarget(query('A', expr, title));

/** Builds the dashboard model; pure, so a test can compare it with the committed JSON. */
export function buildDashboard() {
  return new DashboardBuilder('routemeter: HTTP RED by route')
    .uid('routemeter-red')
    .description('Rate, errors and duration of every route, from routemeter metrics (http_requests_total, …).')
    .tags(['routemeter', 'http', 'RED'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('10s')
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('job')
        .label('Job')
        .datasource(datasource)
        .query('label_values(http_requests_total, job)')
        .definition('label_values(http_requests_total, job)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      new QueryVariableBuilder('route')
        .label('Route')
        .datasource(datasource)
        .query('label_values(http_requests_total{job=~"$job"}, route)')
        .definition('label_values(http_requests_total{job=~"$job"}, route)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      // Kubernetes targets have a `pod` label (examples/kubernetes). "All" is `.*`, not `.+`: it also matches
      // series without the label, so the dashboard works unchanged on targets outside Kubernetes.
      new QueryVariableBuilder('pod')
        .label('Pod')
        .datasource(datasource)
        .query('label_values(http_requests_total{job=~"$job"}, pod)')
        .definition('label_values(http_requests_total{job=~"$job"}, pod)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withRow(new RowBuilder('Overview'))
    .withPanel(stat('Requests per second', 'reqps', `sum(rate(${requests}${window}))`))
    .withPanel(
      stat(
        'Error ratio (5xx)',
        'percentunit',
        `sum(rate(${errors}${window})) / sum(rate(${requests}${window}))`,
      ).thresholds(thresholds([null, 'green'], [0.01, 'orange'], [0.05, 'red'])),
    )
    .withPanel(
      stat('Latency p99', 's', quantile(0.99, [])).thresholds(thresholds([null, 'green'], [0.5, 'orange'], [1, 'red'])),
    )
    .withPanel(stat('Requests in flight', 'short', `sum(${processOf('http_requests_in_flight')})`))
    .withRow(new RowBuilder('Rate, errors, duration by route'))
    .withPanel(
      timeseries('Requests per second by route', 'reqps').withTarget(
        query('A', `sum by (job, route) (rate(${requests}${window}))`, '{{job}} {{route}}'),
      ),
    )
    .withPanel(
      timeseries('Error ratio (5xx) by route', 'percentunit')
        .min(0)
        .withTarget(
          query(
            'A',
            // Routes without any 5xx show 0 rather than no line.
            `(sum by (job, route) (rate(${errors}${window})) or 0 * sum by (job, route) (rate(${requests}${window})))` +
              ` / sum by (job, route) (rate(${requests}${window}))`,
            '{{job}} {{route}}',
          ),
        ),
    )
    .withPanel(
      timeseries('Latency percentiles by route', 's')
        .withTarget(query('A', quantile(0.5, ['job', 'route']), 'p50 {{job}} {{route}}'))
        .withTarget(query('B', quantile(0.9, ['job', 'route']), 'p90 {{job}} {{route}}'))
        .withTarget(query('C', quantile(0.99, ['job', 'route']), 'p99 {{job}} {{route}}')),
    )
    .withPanel(
      timeseries('Responses per second by status code', 'reqps').withTarget(
        query('A', `sum by (job, status_code) (rate(${requests}${window}))`, '{{job}} {{status_code}}'),
      ),
    )
    .withPanel(
      timeseries('Requests in flight', 'short').withTarget(
        query('A', `sum by (job, method) (${processOf('http_requests_in_flight')})`, '{{job}} {{method}}'),
      ),
    )
    .withRow(new RowBuilder('By pod: requests and process'))
    .withPanel(
      // Is the load spread evenly? A pod far from the others is worth a look at its CPU and event loop below.
      timeseries('Requests per second by pod', 'reqps').withTarget(
        query('A', `sum by (job, pod) (rate(${requests}${window}))`, '{{job}} {{pod}}'),
      ),
    )
    .withPanel(
      timeseries('CPU (cores used)', 'short').withTarget(
        query('A', `sum by (job, pod) (rate(${processOf('process_cpu_seconds_total')}${window}))`, '{{job}} {{pod}}'),
      ),
    )
    .withPanel(
      timeseries('Memory', 'bytes')
        .withTarget(query('A', processOf('process_resident_memory_bytes'), 'resident {{job}} {{pod}}'))
        .withTarget(query('B', processOf('nodejs_heap_size_used_bytes'), 'heap used {{job}} {{pod}}')),
    )
    .withPanel(
      timeseries('Event loop lag p99', 's').withTarget(
        query('A', processOf('nodejs_eventloop_lag_p99_seconds'), '{{job}} {{pod}}'),
      ),
    )
    .build();
}

/** The file's exact content: stable key order from the builders, two-space indent, final newline. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--stdout')) process.stdout.write(dashboardJson());
  else {
    writeFileSync(DASHBOARD_FILE, dashboardJson());
    console.log(`wrote ${DASHBOARD_FILE}`);
  }
}
