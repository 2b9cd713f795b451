import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, send } from '../../../test-kit/http.js';
import { type Exposition, parseExposition, sampleValue } from '../../../test-kit/metrics-text.js';
import { promtoolCheckMetrics } from '../../../test-kit/prometheus.js';
import { OPENMETRICS_CONTENT_TYPE } from '../src/adapter.js';
import { RoutemeterOptionError, serveMetrics } from '../src/index.js';
import { type RunningCluster, startCluster, stopClusters } from './cluster-kit.js';

afterEach(stopClusters);

const WORK = { method: 'GET', route: '/work/:id', status_code: '200' };
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

async function sendWork(cluster: RunningCluster, count: number): Promise<void> {
  for (let i = 0; i < count; i++) expect((await send(cluster.app, `/work/${i}`)).status).toBe(200);
}

async function scrape(port: number, accept?: string): Promise<Exposition> {
  const reply = await send(port, '/metrics', accept === undefined ? {} : { headers: { accept } });
  expect(reply.status, reply.body).toBe(200);
  return parseExposition(reply.body);
}

const samplesOf = (metrics: Exposition, name: string) => metrics.samples.filter((s) => s.name === name);

/** The exposition as [family name, its lines] in order, leaving out the families `skip` matches. */
function families(body: string, skip: RegExp): [string, string][] {
  const out: [string, string[]][] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('# HELP ')) out.push([line.split(' ')[2] as string, []]);
    out.at(-1)?.[1].push(line);
  }
  return out.filter(([name]) => !skip.test(name)).map(([name, lines]) => [name, lines.join('\n')]);
}

describe('Node cluster: serveMetrics({ cluster }) in the primary', () => {
  it('serves the sum of what every worker recorded: routemeter metrics and the app’s own', async () => {
    const cluster = await startCluster({ WORKERS: '2' });
    await sendWork(cluster, 40);
    for (const accept of [undefined, OPENMETRICS]) {
      const metrics = await scrape(cluster.metrics, accept);
      expect(sampleValue(metrics, 'http_requests_total', WORK)).toBe(40);
      expect(sampleValue(metrics, 'http_request_duration_seconds_count', WORK)).toBe(40);
      expect(sampleValue(metrics, 'fixture_jobs_total', { kind: 'work' })).toBe(40);
      expect(sampleValue(metrics, 'fixture_job_seconds_bucket', { le: '1' })).toBe(40);
      expect(sampleValue(metrics, 'fixture_job_bytes_count', { kind: 'work' })).toBe(40);
      expect(sampleValue(metrics, 'fixture_queue_depth')).toBe(6); // a gauge of 3 in each worker, summed
      expect(sampleValue(metrics, 'routemeter_cluster_workers')).toBe(2);
      expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(2);
      expect(samplesOf(metrics, 'routemeter_cluster_worker_stale').map((s) => s.value)).toEqual([0, 0]);
    }
  });

  it('renders each format byte for byte as the worker itself does, exemplars left out', async () => {
    const cluster = await startCluster({ WORKERS: '1', EXEMPLARS: '1' });
    await sendWork(cluster, 7);
    // Per-worker families (the summary) and the collection counter (bumped by each scrape) differ by design.
    const skip = /^(routemeter_cluster_|fixture_job_quantiles|fixture_collections)/;
    // The second time round the worker sends only the labels of the series that are new (a 500).
    const rounds = ['text/plain; version=0.0.4', OPENMETRICS, 'fail', 'text/plain; version=0.0.4', OPENMETRICS];
    for (const accept of rounds) {
      if (accept === 'fail') {
        expect((await send(cluster.app, '/work/8?fail')).status).toBe(500);
        continue;
      }
      const worker = (await send(cluster.app, '/metrics', { headers: { accept } })).body;
      const primary = await send(cluster.metrics, '/metrics', { headers: { accept } });
      if (accept === OPENMETRICS) {
        expect(primary.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
        expect(worker).toContain(' # {trace_id="abc"}');
        expect(primary.body).toMatch(/^http_requests_total\{/m); // the family is http_requests, not http_requests_total_total
        expect(primary.body).not.toContain('_total_total');
        expect(primary.body.endsWith('\n# EOF\n')).toBe(true);
      }
      const withoutExemplars = worker.replace(/ # \{[^}]*\} \S+ \S+$/gm, '');
      const expected = families(withoutExemplars, skip);
      expect(expected.map(([name]) => name)).toContain('http_request_duration_seconds');
      expect(withoutExemplars).toContain('fixture_unmeasured{kind="nan"} Nan\nfixture_unmeasured{kind="inf"} +Inf');
      expect(families(primary.body, skip)).toEqual(expected);
    }
  });

  it('serves a worker that misses a scrape with its last values, marks it stale, and logs it once', async () => {
    const cluster = await startCluster({ WORKERS: '2' });
    await sendWork(cluster, 40);
    expect(sampleValue(await scrape(cluster.metrics), 'http_requests_total', WORK)).toBe(40);
    const [first, second] = (await cluster.workers()).sort((a, b) => a.index - b.index);
    if (first === undefined || second === undefined) throw new Error('two workers expected');
    process.kill(second.pid, 'SIGSTOP');
    try {
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        const metrics = await scrape(cluster.metrics);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(sampleValue(metrics, 'http_requests_total', WORK)).toBe(40);
        expect(sampleValue(metrics, 'http_request_duration_seconds_count', WORK)).toBe(40);
        expect(sampleValue(metrics, 'fixture_queue_depth')).toBe(3); // gauges: only from the worker that answered
        expect(sampleValue(metrics, 'routemeter_cluster_workers_answered')).toBe(1);
        expect(sampleValue(metrics, 'routemeter_cluster_worker_stale', { worker: String(first.id) })).toBe(0);
        expect(sampleValue(metrics, 'routemeter_cluster_worker_stale', { worker: String(second.id) })).toBe(1);
      }
    } finally {
      process.kill(second.pid, 'SIGCONT');
    }
    const warnings = cluster.stderr().match(/routemeter: cluster worker \d+ did not answer within 400 ms/g);
    expect(warnings).toEqual([`routemeter: cluster worker ${second.id} did not answer within 400 ms`]);
    await eventually(async () => {
      expect(sampleValue(await scrape(cluster.metrics), 'routemeter_cluster_workers_answered')).toBe(2);
    }, 5000);
    expect(cluster.stderr()).toContain(`routemeter: cluster worker ${second.id} answered again, after 2 scrape(s)`);
  });

  it('never lowers counters and histograms when a worker is killed and restarted from zero', async () => {
    const cluster = await startCluster({ WORKERS: '2', RESTART: '1' });
    await sendWork(cluster, 40);
    expect(sampleValue(await scrape(cluster.metrics), 'http_requests_total', WORK)).toBe(40);
    const [victim] = await cluster.workers();
    if (victim === undefined) throw new Error('no worker');
    process.kill(victim.pid, 'SIGKILL');
    await eventually(async () => {
      const live = await cluster.workers();
      expect(live.length).toBe(2);
      expect(live.map((w) => w.id)).not.toContain(victim.id);
      expect(sampleValue(await scrape(cluster.metrics), 'routemeter_cluster_workers_answered')).toBe(2);
    }, 10_000);
    const after = await scrape(cluster.metrics);
    expect(sampleValue(after, 'http_requests_total', WORK)).toBe(40); // the dead worker's requests are retained
    expect(sampleValue(after, 'fixture_jobs_total', { kind: 'work' })).toBe(40);
    expect(sampleValue(after, 'fixture_queue_depth')).toBe(3); // the new worker's gauge is 0, the dead one's is gone
    await sendWork(cluster, 20);
    const more = await scrape(cluster.metrics);
    expect(sampleValue(more, 'http_requests_total', WORK)).toBe(60);
    expect(sampleValue(more, 'http_request_duration_seconds_bucket', { ...WORK, le: '+Inf' })).toBe(60);
    expect(samplesOf(more, 'routemeter_cluster_worker_stale').map((s) => s.labels.worker)).not.toContain(
      String(victim.id),
    );
  });

  it('drops, with one warning, an answer it cannot read, and keeps serving', async () => {
    const cluster = await startCluster({ WORKERS: '1', GARBLE: '1' });
    await sendWork(cluster, 3);
    for (let i = 0; i < 2; i++) expect(sampleValue(await scrape(cluster.metrics), 'http_requests_total', WORK)).toBe(3);
    expect(cluster.stderr().match(/cannot read/g)).toEqual(['cannot read']);
    expect(cluster.stderr()).toContain(
      'routemeter: cluster worker 1 sent an answer this primary cannot read (another routemeter version?); it counts as not answering',
    );
  });

  it('cluster.strict answers 500 when any worker misses the scrape', async () => {
    const cluster = await startCluster({ WORKERS: '2', HANG_ONE: '1', STRICT: '1' });
    const reply = await send(cluster.metrics, '/metrics');
    expect(reply.status).toBe(500);
    expect(cluster.stderr()).toMatch(
      /routemeter: collecting metrics failed: cluster worker \d+ did not answer within 400 ms \(cluster\.strict/,
    );
  });

  it('labels by worker the process metrics a sum would falsify, and keeps the registry’s default labels', async () => {
    const cluster = await startCluster({ WORKERS: '2', DEFAULT_METRICS: '1', DEFAULT_LABELS: '1' });
    await sendWork(cluster, 10);
    const reply = await send(cluster.metrics, '/metrics');
    const metrics = parseExposition(reply.body);
    const ids = (await cluster.workers()).map((w) => String(w.id)).sort();
    const workersOf = (name: string) => samplesOf(metrics, name).map((s) => s.labels.worker);
    for (const name of [
      'process_start_time_seconds',
      'process_max_fds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'fixture_job_quantiles_count',
    ]) {
      expect(workersOf(name).sort(), name).toEqual(ids);
    }
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_max_seconds',
      'nodejs_version_info',
    ]) {
      expect(workersOf(name), name).toEqual([undefined]);
    }
    // Both workers' default label is on every sample, and the sum is still one series.
    expect(sampleValue(metrics, 'http_requests_total', { ...WORK, service: 'shop' })).toBe(10);
    expect(sampleValue(metrics, 'fixture_jobs_total', { kind: 'work', service: 'shop' })).toBe(10);
    // promtool complains of nothing but prom-client's own gauge names, as it does of a single process.
    expect((await promtoolCheckMetrics(reply.body)).split('\n')).toEqual(
      ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map(
        (name) => `${name} non-counter metrics should not have "_total" suffix`,
      ),
    );
  });
});

describe('serveMetrics({ cluster }) options', () => {
  it.each<[unknown, string, string]>([
    ['yes', 'cluster', 'must be a boolean or { timeoutMs, strict }, got "yes"'],
    [null, 'cluster', 'must be a boolean or { timeoutMs, strict }, got null'],
    [[], 'cluster', 'must be a boolean or { timeoutMs, strict }, got an array'],
    [{ timeout: 500 }, 'cluster.timeout', 'is not an option; the options of `cluster` are `timeoutMs` and `strict`'],
    ...[0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '500'].map((timeoutMs): [unknown, string, string] => [
      { timeoutMs },
      'cluster.timeoutMs',
      `must be a number of milliseconds above 0 and at most 2147483647, got ${typeof timeoutMs === 'string' ? `"${timeoutMs}"` : timeoutMs}`,
    ]),
    [{ strict: 'yes' }, 'cluster.strict', 'must be a boolean, got "yes"'],
  ])('rejects cluster: %j, naming %s', async (cluster, option, problem) => {
    const created = serveMetrics({ port: 0, host: '127.0.0.1', cluster: cluster as never });
    await expect(created).rejects.toThrow(RoutemeterOptionError);
    await expect(created).rejects.toThrow(`routemeter: option \`${option}\` ${problem}`);
  });

  it('rejects a registry beside cluster: the primary serves its workers’ registries', async () => {
    await expect(serveMetrics({ port: 0, registry: new Registry(), cluster: true })).rejects.toThrow(
      "routemeter: option `registry` is not served with `cluster`: the primary serves its workers' registries; pass one or the other",
    );
  });

  it('accepts true, false, and each option alone, undefined meaning the default', async () => {
    for (const cluster of [true, false, {}, { timeoutMs: 1 }, { strict: true }, { timeoutMs: undefined }]) {
      const server = await serveMetrics({ port: 0, host: '127.0.0.1', cluster });
      const metrics = parseExposition((await send(server.port, '/metrics')).body);
      expect(sampleValue(metrics, 'routemeter_cluster_workers'), JSON.stringify(cluster)).toBe(
        cluster === false ? undefined : 0,
      );
      await server.close();
    }
  });

  it('rejects cluster in a worker, pointing to the primary', async () => {
    const cluster = await startCluster({ WORKERS: '1', SERVE_IN_WORKER: '1' });
    await eventually(
      () =>
        expect(cluster.stderr()).toContain(
          'routemeter: option `cluster` is for the cluster primary, and this is worker 1: call serveMetrics({ cluster }) in the primary',
        ),
      5000,
    );
  });
});
