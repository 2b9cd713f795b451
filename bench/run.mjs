#!/usr/bin/env node
// The benchmark: `node bench/run.mjs [--quick|--full] [--only=overhead,scrape,scrapers,hostile,micro,cluster]
// [--variants=a,b] [--rounds=N] [--seconds=N] [--connections=N] [--pipelining=N] [--profile=variant]`.
// Run through `npm run bench` (scripts/bench.mjs), which builds the packages first. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_WORKERS, clusterTable, runCluster } from './cluster.mjs';
import { hostileTable, runHostile } from './hostile.mjs';
import { LOAD_CORE, pinned, pinSelf, SERVER_CORE } from './lib/child.mjs';
import { fmt, table } from './lib/stats.mjs';
import { VARIANTS } from './lib/variants.mjs';
import { microTable, runMicro } from './micro.mjs';
import { overheadTable, runOverhead } from './overhead.mjs';
import { PROFILE_DIR, profileDiff, runProfile } from './profile.mjs';
import { runScrape, scrapeTable } from './scrape.mjs';
import { runScrapers, scrapersTable } from './scrapers.mjs';

const MODES = {
  quick: {
    rounds: 5,
    seconds: 1,
    warmupSeconds: 1,
    scrapes: 20,
    scraperRounds: 3,
    hostile: 20_000,
    microIterations: 300_000,
    microBatches: 5,
  },
  full: {
    rounds: 7,
    seconds: 10,
    warmupSeconds: 5,
    scrapes: 20,
    scraperRounds: 5,
    hostile: 20_000,
    microIterations: 2_000_000,
    microBatches: 9,
  },
};
/**
 * One autocannon on one core tops out near 45k req/s at 20 pipelined, below bare Fastify's capacity;
 * 50 connections × 40 pipelined keeps the server core ~95% busy for every variant (see "server busy").
 */
const LOAD = { connections: 50, pipelining: 40 };
const SECTIONS = ['overhead', 'scrape', 'scrapers', 'hostile', 'micro', 'cluster'];
/** Scrapers at once in the `scrapers` bench (issue 10). */
const SCRAPERS = 20;

const args = parseArgs(process.argv.slice(2));
const mode = args.full ? 'full' : 'quick';
const config = {
  ...MODES[mode],
  ...LOAD,
  ...pickNumbers(args, ['rounds', 'seconds', 'connections', 'pipelining', 'scrapes', 'hostile']),
};
const only = args.only ? String(args.only).split(',') : SECTIONS;
const log = (line) => console.log(line);
const here = fileURLToPath(new URL('.', import.meta.url));
const requireHere = createRequire(import.meta.url);

pinSelf();
const fastifyAdapter = await fastifyAdapterStatus();
const allVariants = Object.keys(VARIANTS).filter((name) => name !== 'fastify-routemeter' || fastifyAdapter.ok);
const chosen = args.variants ? String(args.variants).split(',') : allVariants;
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

const timed = async (section, fn) => {
  const start = performance.now();
  results.sections[section] = await fn();
  results.sections[section].seconds = (performance.now() - start) / 1000;
};

if (only.includes('overhead')) {
  // The bare variant of each framework is the baseline: always run it beside the others.
  const variants = withBares(chosen);
  log(
    `\n> overhead: ${variants.length} variants × ${config.rounds} rounds × ${config.seconds} s, ${config.connections} connections × ${config.pipelining} pipelined`,
  );
  await timed('overhead', () =>
    runOverhead({
      variants,
      rounds: config.rounds,
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
      connections: config.connections,
      pipelining: config.pipelining,
      log,
    }),
  );
}
if (only.includes('scrape')) {
  const variants = chosen.filter((name) => !VARIANTS[name].bare && !VARIANTS[name].floor);
  log(`\n> scrape cost: ${variants.length} variants, 6,000 label sets, ${config.scrapes} scrapes each`);
  await timed('scrape', () => runScrape({ variants, scrapes: config.scrapes, log }));
}
if (only.includes('scrapers')) {
  const variants = chosen.filter((name) => VARIANTS[name].ours);
  log(
    `\n> scrapers: ${variants.length} variants, 20,000 label sets, ${SCRAPERS} scrapers at once, ${config.scraperRounds} rounds`,
  );
  await timed('scrapers', () => runScrapers({ variants, clients: SCRAPERS, rounds: config.scraperRounds, log }));
}
if (only.includes('hostile')) {
  const variants = withBares(chosen.filter((name) => !VARIANTS[name].floor));
  log(`\n> hostile traffic: ${config.hostile} random unmatched URLs per variant`);
  await timed('hostile', () => runHostile({ variants, requests: config.hostile, log }));
}
if (only.includes('micro')) {
  log(`\n> micro: recording path, ${config.microIterations} requests × ${config.microBatches} batches`);
  await timed('micro', () => runMicro({ iterations: config.microIterations, batches: config.microBatches }));
}
if (only.includes('cluster')) {
  log(`\n> cluster primary: ${CLUSTER_WORKERS} workers × 6,000 label sets, ${config.scrapes} scrapes each way`);
  await timed('cluster', () => runCluster({ scrapes: config.scrapes, log }));
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
  const bares = new Set(names.map((name) => `${VARIANTS[name].framework}-bare`));
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
      return JSON.parse(readFileSync(requireHere.resolve(`${name}/package.json`), 'utf8')).version;
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
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    pinning: pinned
      ? `server on core ${SERVER_CORE}, load generator on core ${LOAD_CORE} (taskset)`
      : 'none (taskset missing or one core)',
    commit,
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

/** Each target of issues 6 and 10 against this run's figures. */
function targets({ sections }) {
  const rows = [];
  const o = sections.overhead?.rows ?? [];
  const row = (name) => o.find((r) => r.name === name);
  const peersOf = (framework) =>
    o.filter(
      (r) => r.framework === framework && !VARIANTS[r.name].bare && !VARIANTS[r.name].floor && !VARIANTS[r.name].ours,
    );
  const check = (ok) => (ok ? 'met' : '**missed**');
  for (const [framework, name, limit, minRatio] of [
    ['fastify', 'fastify-routemeter', 3, undefined],
    ['express', 'express-routemeter', 15, 0.9],
  ]) {
    const ours = row(name);
    if (ours === undefined) continue;
    rows.push([`${name}: ≤ ${limit} µs added per request`, `${fmt(ours.addedUs, 1)} µs`, check(ours.addedUs <= limit)]);
    if (minRatio !== undefined)
      rows.push([`${name}: ≥ ${minRatio}× of bare req/s`, `${fmt(ours.ratio, 2)}×`, check(ours.ratio >= minRatio)]);
    const peers = peersOf(framework);
    if (peers.length > 0) {
      const best = peers.reduce((a, b) => (a.addedUs < b.addedUs ? a : b));
      rows.push([
        `${name}: ahead of every ${framework} peer`,
        `${fmt(ours.addedUs, 1)} vs best peer ${best.name} ${fmt(best.addedUs, 1)} µs`,
        check(ours.addedUs < best.addedUs),
      ]);
    }
  }
  for (const r of (sections.scrape?.rows ?? []).filter((x) => VARIANTS[x.name].ours)) {
    rows.push([
      `${r.name}: scrape of 6,000 series ≤ 50 ms`,
      `median ${fmt(r.medianMs)} ms, max ${fmt(r.maxMs)} ms`,
      check(r.maxMs <= 50),
    ]);
    rows.push([`${r.name}: no event-loop stall over 20 ms`, `${fmt(r.maxStallMs)} ms`, check(r.maxStallMs <= 20)]);
    rows.push([
      `${r.name}: same samples as prom-client`,
      r.samplesMatchPromClient ? 'yes' : 'no',
      check(r.samplesMatchPromClient),
    ]);
  }
  for (const r of sections.scrapers?.rows ?? []) {
    const { clients } = sections.scrapers;
    rows.push([
      `${r.name}: ${clients} concurrent scrapes of ${r.series} series stall the loop ≤ 50 ms`,
      `${fmt(r.maxStallMs)} ms (the server's own work ${fmt(r.maxBusyStallMs)} ms)`,
      check(r.maxStallMs <= 50),
    ]);
    rows.push([
      `${r.name}: ${clients} non-reading scrapers hold < 2 bodies`,
      `${fmt(r.stalledGrowthBodies, 2)} bodies (${fmt(r.stalledGrowthMB)} MB)`,
      check(r.stalledGrowthBodies < 2),
    ]);
  }
  for (const r of (sections.hostile?.rows ?? []).filter((x) => VARIANTS[x.name].ours)) {
    rows.push([
      `${r.name}: hostile traffic adds no series beyond the unmatched label`,
      `${r.seriesAdded} label sets added`,
      check(r.seriesAdded <= 2),
    ]);
    rows.push([`${r.name}: heap growth < 2 MB`, `${fmt(r.heapGrowthMB, 2)} MB`, check(r.heapGrowthMB < 2)]);
  }
  return rows.length === 0 ? '' : table(['target (issues 6, 10)', 'this run', ''], rows);
}

function report(results) {
  const { machine: m, sections, config: c } = results;
  const out = [
    '# routemeter benchmark results',
    '',
    `Written by \`${results.command}\` (${results.mode} mode) on ${results.started}, in ${fmt(results.seconds, 0)} s. How to run and read: [README.md](README.md).`,
    '',
    `- Machine: ${m.cpu}, ${m.memoryGB} GB, ${m.os}, Node ${m.node}; ${m.pinning}.`,
    `- Code: commit ${m.commit}.`,
    `- Libraries: ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  ];
  if (!results.fastifyAdapter.ok) out.push(`- @routemeter/fastify left out: ${results.fastifyAdapter.reason}.`);
  const targetTable = targets(results);
  if (targetTable) out.push('', '## Targets', '', targetTable);
  if (sections.overhead) {
    const low = sections.overhead.rows.filter((r) => r.busy < 0.9);
    out.push(
      '',
      '## Overhead',
      '',
      `GET /users/1…1000, ${c.connections} connections × ${c.pipelining} pipelined, ${c.rounds} rounds of ${c.seconds} s per variant, interleaved. ` +
        "CPU µs/req is the server process's own CPU time (user + system) over the measured window divided by the responses in it; " +
        '"added" and "ratio" are paired with the bare variant of the same round (median, min–max over rounds); "best rounds" is the variant\'s lowest CPU µs/req minus bare\'s lowest (neighbours only ever add CPU time).',
      '',
      overheadTable(sections.overhead),
    );
    if (low.length > 0) {
      out.push(
        '',
        `Server below 90% busy in: ${low.map((r) => `${r.name} (${fmt(r.busy * 100, 0)}%)`).join(', ')} — the load generator (or a neighbour on the machine) limited these; their req/s understate the server, CPU µs/req still holds. Raise --connections/--pipelining.`,
      );
    }
  }
  if (sections.scrape) {
    out.push(
      '',
      '## Scrape cost',
      '',
      `500 routes × GET/POST/PUT × 200/201/404/500 recorded (${sections.scrape.labelSets} label sets), then ${sections.scrape.scrapes} scrapes of /metrics over HTTP, one at a time. "Longest loop stall" is the max of monitorEventLoopDelay (1 ms resolution) in the server during each scrape. Label sets count every metric but prom-client's process metrics.`,
      '',
      scrapeTable(sections.scrape),
    );
  }
  if (sections.scrapers) {
    const { clients, rounds } = sections.scrapers;
    out.push(
      '',
      '## Scrapers at once',
      '',
      `500 routes × GET/POST × 20 statuses recorded (20,000 label sets), then ${rounds} rounds of ${clients} concurrent GET /metrics on connections of their own, each read to the end (the first round renders every series, later ones find their text cached); "longest loop stall" is the max of monitorEventLoopDelay in the server during a round, and "own work" the longest stall counting only the CPU time the server process used in it (the rest is the server waiting for its core, on a shared machine). Then ${clients} clients send GET /metrics and never read: the server's heapUsed + external (after GC) once it stops changing, minus before, in MB and in bodies.`,
      '',
      scrapersTable(sections.scrapers),
    );
  }
  if (sections.hostile) {
    out.push(
      '',
      '## Hostile traffic',
      '',
      `${sections.hostile.requests} GETs to distinct random unmatched URLs after a warm-up; heap is heapUsed after two forced GCs. Growth "vs bare" subtracts the bare process of the same framework under the same traffic.`,
      '',
      hostileTable(sections.hostile),
    );
  }
  if (sections.micro) {
    out.push(
      '',
      '## Micro: recording path',
      '',
      `${sections.micro.mixSize} pre-generated requests (50 routes; GET 70 %, POST 15 %, PUT 8 %, DELETE 5 %, PATCH 2 %; status 200 80 %, 201, 204, 304, 404 5 %, 500, 503; durations 0.5 ms–2 s) recorded ${sections.micro.iterations} times per batch, ${sections.micro.batches} batches, in a process of its own on the server core. Request timing (performance.now()) is not included.`,
      '',
      microTable(sections.micro),
    );
  }
  if (sections.cluster) {
    const c = sections.cluster;
    out.push(
      '',
      '## Node cluster: the primary',
      '',
      `A primary and ${c.workers} workers, each worker with the scrape bench's ${c.labelSets.toLocaleString('en')} label sets (routemeter's core, process metrics on), the primary alone on the server core and the workers on the load generator's (idle during a scrape), so that the primary's stall is its own work. Before each scrape every worker records one more request on a tenth of its label sets. ${c.scrapes} scrapes each way of the same workers and registries, alternating: routemeter's serveMetrics({ cluster }) and prom-client's AggregatorRegistry.clusterMetrics() (text format). "Primary stall" is the max of monitorEventLoopDelay (1 ms resolution) in the primary during each scrape. Same request samples in both sums: ${c.sameSamples ? 'yes' : '**no**'} (${c.requestSamples} lines).`,
      '',
      clusterTable(c),
    );
  }
  return `${out.join('\n')}\n`;
}
