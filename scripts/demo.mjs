#!/usr/bin/env node
// `npm run demo`: the whole pipeline from one command. Installs and builds what it needs, starts both example
// services and a real Prometheus (the example config and rules) as child processes on 127.0.0.1, sends varied
// traffic for a bounded time, then prints the RED table Prometheus computed and any alerts, and stops it all.
//
//   npm run demo                         ~20 s of traffic
//   npm run demo -- --duration 60        60 s of traffic
//   npm run demo -- --keep               leave the stack up (URLs printed) until Ctrl-C
//   npm run demo -- --no-build           skip install and build (the packages are already built)
//   npm run demo -- --from-source        run the services on the TypeScript sources through tsx (no build)
//   npm run demo -- --cluster            express-service as a Node cluster of 3 workers behind one primary; during
//                                        the traffic one worker is frozen (SIGSTOP) for 2.5 s and another SIGKILLed,
//                                        then the demo shows what Prometheus saw: no counter reset, every request
//                                        counted but the killed worker's last second, the stale worker, the alert
//   npm run demo -- --native-histograms  the services record native histograms too and Prometheus ingests them
//                                        (--enable-feature=native-histograms, scraping protobuf): the RED table's
//                                        percentiles come from the native histograms
//
// Ctrl-C at any point stops every child process and waits for each to exit, so no port stays bound.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prometheusVersion, stopAll } from '../examples/lib/stack.mjs';

const USAGE =
  'usage: npm run demo -- [--duration <seconds>] [--keep] [--no-build] [--from-source] [--cluster] [--native-histograms]';
const CLUSTER_WORKERS = 3;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      duration: { type: 'string', default: '20' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'from-source': { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
      'native-histograms': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const duration = Number(args.duration);
if (!Number.isFinite(duration) || duration < 1 || duration > 3600) {
  console.error(
    `--duration must be a number of seconds from 1 to 3600, got ${JSON.stringify(args.duration)}\n${USAGE}`,
  );
  process.exit(2);
}

const step = (title) => console.log(`\n> ${title}`);

// 1. Install and build (skipped with --no-build or --from-source).
if (!args['no-build'] && !args['from-source']) {
  const { ensureInstalled, pnpm } = await import('./lib/pnpm.mjs');
  step('install and build the packages');
  ensureInstalled();
  pnpm(['--recursive', '--filter', './packages/*', 'run', 'build'], { quiet: true });
} else if (!args['from-source']) {
  const root = new URL('..', import.meta.url).pathname;
  const missing = ['core', 'express', 'fastify', 'nestjs'].filter(
    (p) => !existsSync(join(root, 'packages', p, 'dist')),
  );
  if (missing.length > 0) {
    console.error(`--no-build: packages ${missing.join(', ')} are not built; run 'npm run build' first`);
    process.exit(1);
  }
}

// 2. Prometheus, from Debian's package.
step('prometheus');
if (prometheusVersion() === undefined) {
  const install = 'apt-get update && apt-get install -y prometheus';
  if (process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log(`not found; installing: ${install}`);
    const result = spawnSync('sh', ['-c', install], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0 || prometheusVersion() === undefined) {
      console.error(`installing prometheus failed; run '${install}' yourself, or put prometheus on PATH`);
      process.exit(1);
    }
  } else {
    console.error(
      `prometheus is not installed. Install it and run the demo again:\n  sudo sh -c '${install}'\n` +
        'or download it from https://prometheus.io/download/ and put it on PATH (or set PROMETHEUS_BIN).',
    );
    process.exit(1);
  }
}
console.log(prometheusVersion());

// From here on child processes run: every way out goes through shutdown().
const { startStack } = await import('../examples/lib/stack.mjs');
const { activeAlerts, formatRedTable, progressLine, redReport, sendTraffic } = await import(
  '../examples/lib/traffic.mjs'
);
const clusterFaults = args.cluster ? await import('../examples/lib/cluster-faults.mjs') : undefined;

const abort = new AbortController();
let stopping;
let faults;
function shutdown(code) {
  stopping ??= (async () => {
    abort.abort();
    faults?.cancel(); // a frozen worker is thawed first: a stopped process cannot stop
    await stopAll();
    process.exit(code);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (process.stdout.isTTY) process.stdout.write('\n');
    console.log(`${signal}: stopping the services and Prometheus`);
    shutdown(130);
  });
}

try {
  step(
    `start the example services${args.cluster ? ` (express-service as a cluster of ${CLUSTER_WORKERS} workers)` : ''} ` +
      `and Prometheus on 127.0.0.1${args['from-source'] ? ' (from the sources)' : ''}` +
      `${args['native-histograms'] ? ', native histograms on' : ''}`,
  );
  const stack = await startStack({
    source: args['from-source'],
    clusterWorkers: args.cluster ? CLUSTER_WORKERS : 0,
    nativeHistograms: args['native-histograms'],
  });
  for (const s of stack.services) console.log(`${s.job.padEnd(16)} ${s.metricsUrl}`);
  console.log(`${'prometheus'.padEnd(16)} ${stack.prometheus.url}`);
  await stack.prometheus.waitForScrapes();

  step(`send traffic for ${duration} s`);
  const tty = process.stdout.isTTY;
  let lastPrinted = -Infinity;
  const clustered = stack.services.find((s) => s.scrapePort !== s.port);
  faults = clusterFaults?.scheduleFaults(
    clustered,
    duration * 1000,
    (line) => console.log(`${tty ? '\n' : ''}  ${line}`),
    () => clusterFaults.freezeSeen(stack.prometheus, clustered),
  );
  const result = await sendTraffic(stack.services, {
    durationMs: duration * 1000,
    signal: abort.signal,
    progressEveryMs: tty ? 250 : 1000,
    onProgress(progress) {
      if (tty) process.stdout.write(`\r${progressLine(progress)}${progress.done ? '\n' : ''}`);
      else if (
        progress.elapsedMs - lastPrinted >= 5000 ||
        (progress.done && progress.elapsedMs - lastPrinted >= 1000)
      ) {
        lastPrinted = progress.elapsedMs;
        console.log(progressLine(progress));
      }
    },
  });
  if (abort.signal.aborted) await stopping;

  step('what Prometheus says (after one more scrape and rule evaluation)');
  const since = Date.now();
  await stack.prometheus.waitForScrapes(since);
  await stack.prometheus.waitForRules(since);
  const rows = await redReport(stack.prometheus, result.elapsedMs / 1000);
  console.log(formatRedTable(rows));
  const counted = rows.reduce((sum, r) => sum + r.requests, 0);
  console.log(
    `\nPrometheus counted ${counted} requests; the demo sent ${result.totals.sent}, ${result.totals.answered} answered.`,
  );

  const orders = await stack.prometheus.query('sum by (job, outcome) (shop_orders_total)');
  const ordersOf = (job, outcome) =>
    orders.find((s) => s.metric.job === job && s.metric.outcome === outcome)?.value[1] ?? '0';
  console.log(
    `Business metric shop_orders_total (same /metrics): ${stack.services
      .map((s) => `${s.job} ${ordersOf(s.job, 'placed')} placed, ${ordersOf(s.job, 'failed')} failed`)
      .join('; ')}.\n`,
  );

  const alerts = await activeAlerts(stack.prometheus);
  if (alerts.length === 0) console.log('Alerts: none pending or firing.');
  else {
    console.log('Alerts (pending ones fire if the condition holds for their `for:` duration):');
    for (const a of alerts) console.log(`  ${a.state.padEnd(7)} ${a.name.padEnd(26)} ${a.summary}`);
  }

  if (faults !== undefined) {
    step('the cluster, as Prometheus saw it');
    console.log(await clusterFaults.clusterReport(stack.prometheus, clustered, faults, result));
  }

  if (args.keep) {
    step('the stack stays up; Ctrl-C stops it');
    for (const s of stack.services) console.log(`${s.job.padEnd(16)} ${s.url}  (metrics: ${s.metricsUrl})`);
    console.log(`${'prometheus'.padEnd(16)} ${stack.prometheus.url}  (alerts: ${stack.prometheus.url}/alerts)`);
    setInterval(() => {}, 1 << 30); // keeps the process alive until a signal calls shutdown()
    await new Promise(() => {});
  }
  await shutdown(0);
} catch (error) {
  if (!abort.signal.aborted) {
    console.error(`\ndemo failed: ${error.stack ?? error}`);
    await shutdown(1);
  }
  await stopping;
}
