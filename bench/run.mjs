#!/usr/bin/env node
// The benchmark: `node bench/run.mjs [--quick|--full] [--only=overhead,inprocess,scrape,scrapers,hostile,micro,cluster]
// [--variants=a,b] [--rounds=N] [--seconds=N] [--connections=N] [--pipelining=N] [--profile=variant]`.
// Run through `npm run bench` (scripts/bench.mjs), which builds the packages first. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_WORKERS, runCluster } from './cluster.mjs';
import { runHostile } from './hostile.mjs';
import { runInProcess } from './inprocess.mjs';
import { LOAD_CORE, pinned, pinSelf, SERVER_CORE } from './lib/child.mjs';
import { freshMemoryCost } from './lib/fresh-memory.mjs';
import { fmt } from './lib/stats.mjs';
import { baselineOf, VARIANTS } from './lib/variants.mjs';
import { runMicro } from './micro.mjs';
import { runOverhead } from './overhead.mjs';
import { PROFILE_DIR, profileDiff, runProfile } from './profile.mjs';
import { report } from './report.mjs';
import { runScrape } from './scrape.mjs';
import { runScrapers } from './scrapers.mjs';

/**
 * Overhead: rounds of 0.25 s runs (see overhead.mjs). On this 2-core machine, shared with other work, the paired
 * difference of one Express round scatters by ~16 µs, so an interval of ±3 µs on its median takes ~150 rounds:
 * full mode runs until it gets there (at least 40 rounds) or its 8-minute budget is spent, which keeps
 * the whole run under 20 minutes. Quick mode (~3 minutes) runs 4 rounds and shows the method, not the answer;
 * it scrapes and floods routemeter only.
 */
const MODES = {
  quick: {
    rounds: 4,
    minRounds: 4,
    precisionUs: 0,
    budgetSeconds: 40,
    seconds: 0.2,
    warmupSeconds: 0.5,
    inprocessBatches: 8,
    inprocessRequests: 500,
    scrapes: 5,
    largeScrapes: 0,
    peers: false,
    clusterScrapes: 3,
    scraperRounds: 1,
    hostile: 5_000,
    microIterations: 200_000,
    microBatches: 3,
  },
  full: {
    rounds: 400,
    minRounds: 40,
    precisionUs: 3,
    budgetSeconds: 480,
    seconds: 0.25,
    warmupSeconds: 2,
    inprocessBatches: 40,
    inprocessRequests: 2000,
    scrapes: 20,
    largeScrapes: 2,
    peers: true,
    clusterScrapes: 10,
    scraperRounds: 5,
    hostile: 20_000,
    microIterations: 2_000_000,
    microBatches: 9,
  },
};
/**
 * The overhead load: 32 connections × 16 pipelined keep the server core busy for every variant, and the
 * 512 requests in flight at the end of a run are answered within a few ms (their time is in the window).
 */
const LOAD = { connections: 32, pipelining: 16 };
const SECTIONS = ['overhead', 'inprocess', 'scrape', 'scrapers', 'hostile', 'micro', 'cluster'];
/** Scrapers at once in the `scrapers` bench (issue 10). */
const SCRAPERS = 20;

const args = parseArgs(process.argv.slice(2));
const mode = args.full ? 'full' : 'quick';
const config = {
  ...MODES[mode],
  ...LOAD,
  ...pickNumbers(args, [
    'rounds',
    'minRounds',
    'seconds',
    'connections',
    'pipelining',
    'scrapes',
    'clusterScrapes',
    'hostile',
  ]),
};
const only = args.only ? String(args.only).split(',') : SECTIONS;
const log = (line) => console.log(line);
const here = fileURLToPath(new URL('.', import.meta.url));

pinSelf();
const fastifyAdapter = await fastifyAdapterStatus();
const allVariants = Object.keys(VARIANTS).filter(
  (name) => (VARIANTS[name].app ?? name) !== 'fastify-routemeter' || fastifyAdapter.ok,
);
const chosen = args.variants ? String(args.variants).split(',') : allVariants;
/** The cost curve's apps of 100 and 1,000 routes run in the overhead bench only. */
const oneRoute = chosen.filter((name) => VARIANTS[name]?.routes === undefined && !VARIANTS[name]?.scrapeOnly);
for (const name of chosen)
  if (!VARIANTS[name]) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);

if (args.profile) {
  // The variant and its bare framework, each under the overhead load with --cpu-prof, then the difference.
  const variant = String(args.profile);
  if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}`);
  const load = {
    seconds: Number(args.seconds ?? 10),
    ...LOAD,
    ...pickNumbers(args, ['connections', 'pipelining']),
    log,
  };
  const profiled = await runProfile({ variant, ...load, scrape: args.scrape === true });
  console.log(`\n${profiled.markdown}`);
  const bareName = `${VARIANTS[variant].framework}-bare`;
  if (bareName !== variant && !args.scrape) {
    const bare = await runProfile({ variant: bareName, ...load });
    const diff = profileDiff(profiled, bare);
    writeFileSync(join(PROFILE_DIR, `${variant}-minus-bare.md`), diff);
    console.log(diff);
  }
  console.log(`written: ${PROFILE_DIR}`);
  process.exit(0);
}

const started = new Date();
const results = {
  mode,
  config,
  started: started.toISOString(),
  machine: machine(),
  command: commandLine(),
  fastifyAdapter,
  sections: {},
};
const t0 = performance.now();

/** A section that fails is reported as failed, and the sections after it still run (a full run is long). */
const timed = async (section, fn) => {
  const start = performance.now();
  try {
    results.sections[section] = await fn();
  } catch (error) {
    console.error(`${section} failed:`, error);
    results.failed = { ...results.failed, [section]: String(error?.message ?? error) };
  }
  if (results.sections[section]) results.sections[section].seconds = (performance.now() - start) / 1000;
};

if (only.includes('overhead')) {
  // The bare variant of each framework is the baseline: always run it beside the others.
  const variants = withBares(chosen.filter((name) => !VARIANTS[name].scrapeOnly));
  log(
    `\n> overhead: ${variants.length} variants, up to ${config.rounds} rounds of ${config.seconds} s runs (B V B …), ${config.connections} connections × ${config.pipelining} pipelined`,
  );
  await timed('overhead', () =>
    runOverhead({
      variants,
      rounds: config.rounds,
      minRounds: Math.min(config.minRounds, config.rounds),
      precisionUs: config.precisionUs,
      budgetSeconds: config.budgetSeconds,
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
      connections: config.connections,
      pipelining: config.pipelining,
      log,
    }),
  );
}
if (only.includes('inprocess')) {
  const { inprocessBatches: batches, inprocessRequests: requests } = config;
  log(`\n> in-process: bare, floor and routemeter without sockets, ${batches} batches × ${requests} requests`);
  await timed('inprocess', () => runInProcess({ batches, requests }));
}
if (only.includes('scrape')) {
  // Quick mode scrapes routemeter only: the peers' scrapes took most of its time.
  const variants = [
    ...oneRoute.filter(
      (name) => VARIANTS[name].ours || (config.peers && !VARIANTS[name].bare && !VARIANTS[name].floor),
    ),
    ...chosen.filter((name) => VARIANTS[name].scrapeOnly),
  ];
  // OpenTelemetry's scrape of 60,000 series takes ~8 s here (0.8 s at 6,000): left out of the curve's last point.
  // Quick mode (largeScrapes 0) leaves 60,000 out: recording it through Express's 1,500 routes takes a minute.
  // The protobuf scrape's target is at 6,000 (issue 15): it leaves 60,000 out too.
  const largeVariants =
    config.largeScrapes > 0 ? variants.filter((name) => !VARIANTS[name].otel && !VARIANTS[name].scrapeOnly) : [];
  log(
    `\n> scrape cost: ${variants.length} variants, 600 and 6,000 label sets (${config.scrapes} scrapes each), 60,000 for ${largeVariants.length} (${config.largeScrapes} scrapes)`,
  );
  await timed('scrape', () =>
    runScrape({ variants, scrapes: config.scrapes, largeVariants, largeScrapes: config.largeScrapes, log }),
  );
}
if (only.includes('scrapers')) {
  const variants = oneRoute.filter((name) => VARIANTS[name].ours);
  log(
    `\n> scrapers: ${variants.length} variants, 20,000 label sets, ${SCRAPERS} scrapers at once, ${config.scraperRounds} rounds`,
  );
  await timed('scrapers', () => runScrapers({ variants, clients: SCRAPERS, rounds: config.scraperRounds, log }));
}
if (only.includes('hostile')) {
  const variants = withBares(oneRoute.filter((name) => VARIANTS[name].ours || (config.peers && !VARIANTS[name].floor)));
  log(`\n> hostile traffic: ${config.hostile} random unmatched URLs per variant`);
  await timed('hostile', () => runHostile({ variants, requests: config.hostile, log }));
}
if (only.includes('micro')) {
  log(`\n> micro: recording path, ${config.microIterations} requests × ${config.microBatches} batches`);
  await timed('micro', () => runMicro({ iterations: config.microIterations, batches: config.microBatches }));
}
if (only.includes('cluster')) {
  log(`\n> cluster primary: ${CLUSTER_WORKERS} workers × 6,000 label sets, ${config.clusterScrapes} scrapes each way`);
  await timed('cluster', () => runCluster({ scrapes: config.clusterScrapes, log }));
}
results.seconds = (performance.now() - t0) / 1000;

const markdown = report(results);
// A partial run (--only, --variants) leaves the last complete run's files alone (results/tmp/ is git-ignored).
const partial = args.only !== undefined || args.variants !== undefined;
const [mdFile, jsonFile] =
  partial && !args.write
    ? ['./results/tmp/RESULTS.partial.md', './results/tmp/results.partial.json']
    : ['./RESULTS.md', './results.json'];
mkdirSync(new URL('./results/tmp/', import.meta.url), { recursive: true });
writeFileSync(new URL(jsonFile, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(new URL(mdFile, import.meta.url), markdown);
console.log(`\n${markdown}`);
const took = Object.entries(results.sections).map(([name, section]) => `${name} ${fmt(section.seconds, 0)} s`);
console.log(
  `written: bench/${mdFile.slice(2)}, bench/${jsonFile.slice(2)} (${fmt(results.seconds, 0)} s: ${took.join(', ')})`,
);

function withBares(names) {
  const bares = new Set(names.map(baselineOf));
  return [...Object.keys(VARIANTS).filter((name) => bares.has(name) && !names.includes(name)), ...names];
}

/** Whether @routemeter/fastify is built and exports its plugin; the Fastify variant is left out until it is. */
async function fastifyAdapterStatus() {
  try {
    const mod = await import('@routemeter/fastify');
    const plugin = mod.routemeter ?? mod.default;
    return typeof plugin === 'function'
      ? { ok: true }
      : { ok: false, reason: 'built, but exports no routemeter plugin yet' };
  } catch (error) {
    return { ok: false, reason: `not importable: ${String(error.message).split('\n')[0]}` };
  }
}

function machine() {
  const version = (name) => {
    try {
      // Not through require.resolve: packages whose `exports` leave out package.json would read n/a.
      return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'n/a';
    }
  };
  let commit = 'n/a';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages'], {
      cwd: here,
      encoding: 'utf8',
    }).trim();
    if (dirty !== '') commit += ' (packages/ has uncommitted changes)';
  } catch {}
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    pinning: pinned
      ? `server on core ${SERVER_CORE}, load generator on core ${LOAD_CORE} (taskset)`
      : 'none (taskset missing or one core)',
    commit,
    freshMemory: freshMemoryCost(),
    packages: Object.fromEntries(
      [
        'express',
        'fastify',
        'prom-client',
        'express-prom-bundle',
        '@promster/express',
        '@promster/fastify',
        'fastify-metrics',
        'autocannon',
        '@opentelemetry/sdk-metrics',
        '@opentelemetry/exporter-prometheus',
        '@opentelemetry/instrumentation-http',
        '@opentelemetry/instrumentation-express',
        '@fastify/otel',
        'light-my-request',
      ].map((name) => [name, version(name)]),
    ),
  };
}

function commandLine() {
  const rest = process.argv.slice(2).filter((arg) => arg !== '--no-build');
  return `npm run bench${rest.length > 0 ? ` -- ${rest.join(' ')}` : ''}`;
}

function parseArgs(argv) {
  const out = {};
  for (const arg of argv) {
    const match = arg.match(/^--([^=]+)(?:=(.*))?$/);
    if (!match) throw new Error(`unexpected argument ${arg}`);
    out[match[1]] = match[2] ?? true;
  }
  return out;
}

function pickNumbers(source, keys) {
  const out = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = Number(source[key]);
  return out;
}
