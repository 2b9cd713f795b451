// `--profile=<variant>`: the variant's server under the overhead load with `--cpu-prof`, then the
// profile's top frames by self time and the share of each package, written beside the .cpuprofile.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startServer } from './lib/child.mjs';
import { get, sendAll } from './lib/load.mjs';
import { fmt, table } from './lib/stats.mjs';
import { labelSetRequests } from './scrape.mjs';

const REQUESTS = Array.from({ length: 1000 }, (_, i) => ({ method: 'GET', path: `/users/${i + 1}` }));
/** Git-ignored: profiles are large and machine-specific. */
export const PROFILE_DIR = fileURLToPath(new URL('./results/tmp/profiles/', import.meta.url));

/**
 * Profiles one variant: under the overhead load for `seconds`, or (`scrape`) through the scrape bench's
 * 6,000 label sets and 20 scrapes. Writes the .cpuprofile and its summary to PROFILE_DIR.
 */
export async function runProfile({ variant, seconds, connections, pipelining, log, scrape = false }) {
  mkdirSync(PROFILE_DIR, { recursive: true });
  const tmp = join(PROFILE_DIR, `.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const server = await startServer(variant, {
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${tmp}`],
    scrapeRoutes: scrape,
  });
  const name = scrape ? `${variant}-scrape` : variant;
  let count;
  try {
    if (scrape) {
      await sendAll(server.port, labelSetRequests());
      log(`  profiling 20 scrapes of ${variant}`);
      for (let i = 0; i < 20; i++) await get(server.port, '/metrics');
      count = 20;
    } else {
      log(`  profiling ${variant} under load for ${seconds} s`);
      const result = await new Promise((resolve, reject) =>
        autocannon(
          { url: `http://127.0.0.1:${server.port}`, connections, pipelining, duration: seconds, requests: REQUESTS },
          (error, result) => (error ? reject(error) : resolve(result)),
        ),
      );
      count = result.requests.total;
    }
  } finally {
    await server.stop(); // the profile is written as the process exits
  }
  const [file] = readdirSync(tmp).filter((entry) => entry.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`${variant}: no .cpuprofile written`);
  const target = join(PROFILE_DIR, `${name}.cpuprofile`);
  renameSync(join(tmp, file), target);
  rmSync(tmp, { recursive: true, force: true });
  const summary = summarize(JSON.parse(readFileSync(target, 'utf8')), count);
  const markdown = profileMarkdown(name, summary, scrape ? 'scrape' : 'request');
  writeFileSync(join(PROFILE_DIR, `${name}.md`), markdown);
  return { variant: name, file: target, ...summary, markdown };
}

/** Where a frame's code lives: a package name, node's internals, or the engine. */
function owner(url) {
  if (url === '') return '(native / engine)';
  if (url.startsWith('node:')) return 'node internals';
  const pkgs = url.match(/.*node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkgs) return pkgs[1];
  const workspace = url.match(/\/packages\/([^/]+)\//);
  if (workspace) return `@routemeter/${workspace[1]}`;
  if (url.includes('/bench/')) return 'bench app';
  return url;
}

/** Self time per frame and per package, from the sampled nodes of a V8 CPU profile. */
function summarize(profile, requests) {
  const selfUs = new Map();
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const frames = new Map();
  const packages = new Map();
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') {
      selfUs.set(functionName, (selfUs.get(functionName) ?? 0) + us);
      continue;
    }
    total += us;
    const where =
      url === ''
        ? ''
        : `${url.replace(/^file:\/\/.*?\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, '')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'} ${where}`;
    frames.set(key, (frames.get(key) ?? 0) + us);
    const pkg = functionName === '(garbage collector)' ? '(garbage collector)' : owner(url);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const top = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total, usPerRequest: us / requests }));
  return {
    requests,
    busyMs: total / 1000,
    idleMs: (selfUs.get('(idle)') ?? 0) / 1000,
    frames: top(frames, 30),
    allFrames: top(frames, Number.POSITIVE_INFINITY),
    packages: top(packages, 15),
  };
}

export function profileMarkdown(variant, { requests, busyMs, idleMs, frames, packages }, unit = 'request') {
  return [
    `# CPU profile: ${variant}`,
    '',
    `${requests} ${unit}s; busy ${fmt(busyMs, 0)} ms (${fmt((busyMs * 1000) / requests, 2)} µs/${unit}), idle ${fmt(idleMs, 0)} ms. Self time; share of busy time; µs per ${unit} (µs/req columns). (Sampling under --cpu-prof inflates the totals a little.)`,
    '',
    '## By package',
    '',
    table(
      ['package', 'self ms', 'share', 'µs/req'],
      packages.map((p) => [p.name, fmt(p.ms, 0), `${fmt(p.share * 100, 1)}%`, fmt(p.usPerRequest, 2)]),
    ),
    '',
    '## Top frames',
    '',
    table(
      ['frame', 'self ms', 'share', 'µs/req'],
      frames.map((f) => [`\`${f.name}\``, fmt(f.ms, 0), `${fmt(f.share * 100, 1)}%`, fmt(f.usPerRequest, 2)]),
    ),
    '',
  ].join('\n');
}

/**
 * What a variant adds over its bare framework, frame by frame: µs per request in the variant's
 * profile minus the same frame's in bare's (frames are named by function and file, not line, so
 * the two match), largest first.
 */
export function profileDiff(variant, bare) {
  const byName = (frames) => {
    const map = new Map();
    for (const f of frames) {
      const name = f.name.replace(/:\d+$/, '');
      map.set(name, (map.get(name) ?? 0) + f.usPerRequest);
    }
    return map;
  };
  const ours = byName(variant.allFrames);
  const theirs = byName(bare.allFrames);
  const names = new Set([...ours.keys(), ...theirs.keys()]);
  const rows = [...names]
    .map((name) => ({ name, delta: (ours.get(name) ?? 0) - (theirs.get(name) ?? 0), ours: ours.get(name) ?? 0 }))
    .sort((a, b) => b.delta - a.delta)
    .slice(0, 25);
  const total = (variant.busyMs * 1000) / variant.requests - (bare.busyMs * 1000) / bare.requests;
  return [
    `# ${variant.variant} minus ${bare.variant}: where the added CPU goes`,
    '',
    `Busy µs/request under the profiler: ${fmt((variant.busyMs * 1000) / variant.requests, 2)} vs ${fmt((bare.busyMs * 1000) / bare.requests, 2)} (+${fmt(total, 2)}).`,
    '',
    table(
      ['frame (function file)', 'µs/req added', `µs/req in ${variant.variant}`],
      rows.map((r) => [`\`${r.name}\``, fmt(r.delta, 2), fmt(r.ours, 2)]),
    ),
    '',
  ].join('\n');
}
