// The example stack as child processes on 127.0.0.1: both example services and a real Prometheus running the
// example config (rendered with local ports) and rules. Used by `npm run demo` and by the end-to-end tests.
// Plain JavaScript with no dependencies, so that `node scripts/demo.mjs` runs it without a build step.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLES = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = join(EXAMPLES, '..');
export const PROMETHEUS_CONFIG = join(EXAMPLES, 'prometheus', 'prometheus.yml');
export const RULES_DIR = join(EXAMPLES, 'prometheus', 'rules');
/** Maps `@routemeter/*` to the TypeScript sources, for services run with `source: true` (through tsx). */
const SOURCE_TSCONFIG = join(ROOT, 'test-kit', 'examples-tsconfig.json');

/** The example services: their Prometheus job (and compose service) name and their folder. */
export const SERVICES = Object.freeze([
  { job: 'express-service', dir: join(EXAMPLES, 'express-service') },
  { job: 'fastify-service', dir: join(EXAMPLES, 'fastify-service') },
  { job: 'nestjs-service', dir: join(EXAMPLES, 'nestjs-service') },
]);

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';
const STOP_TIMEOUT_MS = 5000;
const START_TIMEOUT_MS = 20_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every process started here and not yet exited, and the temporary directories to remove after them. */
const live = new Set();
const tempDirs = new Set();

/** Stops every process this module started (in parallel), waits for each to exit, removes temp dirs. */
export async function stopAll() {
  await Promise.all([...live].map((proc) => proc.stop()));
  await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  tempDirs.clear();
}

/** Last resort when the parent exits without stopping them (an uncaught error): SIGKILL what is left. */
process.once('exit', () => {
  for (const proc of live) proc.child.kill('SIGKILL');
});

/** A port free on 127.0.0.1 right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when something accepts connections on 127.0.0.1:port. */
export function isListening(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/** Whether the Prometheus binary runs; its version line if so. */
export function prometheusVersion() {
  const result = spawnSync(PROMETHEUS_BIN, ['--version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return `${result.stdout}${result.stderr}`.split('\n')[0];
}

/**
 * The example prometheus.yml with compose host names replaced by 127.0.0.1 ports, the rules by their absolute
 * path and the intervals shortened. Throws if the example file no longer has what this replaces.
 */
export async function renderPrometheusConfig({ prometheusPort, ports, interval = '1s' }) {
  let text = await readFile(PROMETHEUS_CONFIG, 'utf8');
  const replace = (from, to) => {
    if (!text.includes(from)) throw new Error(`${PROMETHEUS_CONFIG} no longer contains ${JSON.stringify(from)}`);
    text = text.replaceAll(from, to);
  };
  replace('scrape_interval: 5s', `scrape_interval: ${interval}`);
  replace('scrape_timeout: 4s', `scrape_timeout: ${interval}`);
  replace('evaluation_interval: 5s', `evaluation_interval: ${interval}`);
  replace('- rules/*.yml', `- ${join(RULES_DIR, '*.yml')}`);
  replace('localhost:9090', `127.0.0.1:${prometheusPort}`);
  for (const { job } of SERVICES) replace(`${job}:3000`, `127.0.0.1:${ports[job]}`);
  return text;
}

/** Spawns a child whose output is kept (the last 20 kB) for error messages; `stop()` ends it and waits. */
function startChild(name, command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }),
  );
  const spawned = new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => {
      live.delete(proc);
      reject(new Error(`${name}: cannot run ${command}: ${error.message}`));
    });
  });
  const proc = {
    name,
    child,
    spawned,
    exited,
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    /** SIGTERM, then SIGKILL if it has not exited after 5 s; resolves once it has exited. */
    async stop() {
      if (child.pid === undefined) return { code: null, signal: null }; // never spawned
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  live.add(proc);
  return proc;
}

/** Polls until check() resolves truthy; throws with the child's output if it exits or time runs out. */
async function waitFor(proc, what, check) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last;
  for (;;) {
    if (!proc.running()) throw new Error(`${proc.name} exited before ${what}:\n${proc.output()}`);
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${proc.name}: timed out waiting for ${what} (${last?.message ?? 'no answer'}):\n${proc.output()}`,
      );
    }
    await sleep(100);
  }
}

/**
 * Starts one example service on 127.0.0.1:port. `source: true` runs it through tsx against the TypeScript
 * sources of the packages (no build needed); otherwise it imports the built packages, as a user would.
 * `workers: n` runs it as a Node cluster of n workers (its cluster.js), the primary serving the metrics on
 * `metricsPort`; `scrapePort` is the port Prometheus scrapes either way.
 */
export async function startService(service, { port, source = false, env = {}, workers = 0, metricsPort }) {
  const entry = workers > 0 ? 'cluster.js' : 'server.js';
  const args = source ? ['--import', import.meta.resolve('tsx'), entry] : [entry];
  const proc = startChild(service.job, process.execPath, args, {
    cwd: service.dir,
    env: {
      ...process.env,
      ...(source ? { TSX_TSCONFIG_PATH: SOURCE_TSCONFIG } : {}),
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(workers > 0 ? { WORKERS: String(workers), METRICS_PORT: String(metricsPort) } : {}),
      ...env,
    },
  });
  await proc.spawned;
  const url = `http://127.0.0.1:${port}`;
  // With METRICS_TOKEN the service's /metrics answers 401 to anyone without it.
  const token = env.METRICS_TOKEN;
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  if (workers === 0) {
    await waitFor(proc, `${url}/metrics`, async () => (await fetch(`${url}/metrics`, { headers })).ok);
    return { ...proc, job: service.job, port, url, scrapePort: port, metricsUrl: `${url}/metrics` };
  }
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitFor(proc, `${metricsUrl} with ${workers} workers answering`, async () => {
    const text = await (await fetch(metricsUrl, { headers })).text();
    return text.includes(`\nroutemeter_cluster_workers_answered ${workers}\n`) && (await fetch(`${url}/users/1`)).ok;
  });
  return { ...proc, job: service.job, port, url, scrapePort: metricsPort, metricsUrl };
}

/** The live workers of a service run as a cluster, from the lines its primary prints (cluster.js). */
export function clusterWorkers(service) {
  const live = new Map();
  for (const [, id, pid, event] of service.output().matchAll(/worker (\d+) \(pid (\d+)\) (started|exited)/g)) {
    if (event === 'started') live.set(Number(id), Number(pid));
    else live.delete(Number(id));
  }
  return [...live].map(([id, pid]) => ({ id, pid }));
}

/**
 * Starts Prometheus with the rendered example config (or `config`, the text of another whole config file) and a
 * temporary storage directory.
 */
export async function startPrometheus({ ports, interval = '1s', config, features = [] }) {
  const dir = await mkdtemp(join(tmpdir(), 'routemeter-demo-prometheus-'));
  tempDirs.add(dir);
  const removeDir = async () => {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  const port = await freePort();
  const configFile = join(dir, 'prometheus.yml');
  try {
    await writeFile(configFile, config ?? (await renderPrometheusConfig({ prometheusPort: port, ports, interval })));
  } catch (error) {
    await removeDir();
    throw error;
  }
  const proc = startChild('prometheus', PROMETHEUS_BIN, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...features.map((feature) => `--enable-feature=${feature}`),
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stopAndClean = async () => {
    await proc.stop();
    await removeDir();
  };
  try {
    await proc.spawned;
    await waitFor(proc, `${url}/-/ready`, async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (error) {
    await stopAndClean();
    throw error;
  }
  const api = async (path) => {
    const res = await fetch(`${url}${path}`);
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    ...proc,
    port,
    url,
    configFile,
    stop: stopAndClean,
    api,
    /** Instant query; resolves to the result vector (or throws on a PromQL error). */
    async query(expr) {
      const data = await api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result;
    },
    /** Resolves once every target has been scraped successfully after `since` (a Date.now() value). */
    async waitForScrapes(since = Date.now()) {
      await waitFor(proc, 'a fresh scrape of every target', async () => {
        const { activeTargets } = await api('/api/v1/targets');
        return (
          activeTargets.length === SERVICES.length + 1 &&
          activeTargets.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > since)
        );
      });
    },
    /** Resolves once every rule group has been evaluated after `since`. */
    async waitForRules(since = Date.now()) {
      await waitFor(proc, 'an evaluation of every rule group', async () => {
        const { groups } = await api('/api/v1/rules');
        return groups.length > 0 && groups.every((g) => Date.parse(g.lastEvaluation) > since);
      });
    },
  };
}

/**
 * Both services and Prometheus. `stop()` stops all of them (whatever started) and waits for each to exit.
 * If a start fails, what already started is stopped before the error is thrown. `clusterWorkers: n` runs
 * express-service as a Node cluster of n workers (Prometheus then scrapes its primary). `nativeHistograms: true`
 * turns them on in the services (NATIVE_HISTOGRAMS=1) and in Prometheus (--enable-feature=native-histograms).
 */
export async function startStack({
  source = false,
  interval = '1s',
  env = {},
  clusterWorkers: workers = 0,
  nativeHistograms = false,
} = {}) {
  const started = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((proc) => proc.stop()));
  };
  try {
    const services = [];
    for (const service of SERVICES) {
      const clustered = workers > 0 && service.job === 'express-service';
      const running = await startService(service, {
        port: await freePort(),
        source,
        env: nativeHistograms ? { ...env, NATIVE_HISTOGRAMS: '1' } : env,
        ...(clustered ? { workers, metricsPort: await freePort() } : {}),
      });
      started.push(running);
      services.push(running);
    }
    const ports = Object.fromEntries(services.map((s) => [s.job, s.scrapePort]));
    const features = nativeHistograms ? ['native-histograms'] : [];
    const prometheus = await startPrometheus({ ports, interval, features });
    started.push(prometheus);
    return { services, prometheus, stop, processes: () => [...started] };
  } catch (error) {
    await stop();
    throw error;
  }
}
