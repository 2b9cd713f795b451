import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './http.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus';
const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool';
const MISSING = "is not installed: run 'apt-get install -y prometheus' (or set PROMETHEUS_BIN / PROMTOOL_BIN)";

export interface Target {
  readonly job: string;
  readonly port: number;
  readonly metricsPath?: string;
}

export interface PromResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface RunningPrometheus {
  readonly url: string;
  query(expr: string): Promise<PromResult[]>;
  /** Waits until every target has been scraped successfully at least once after `since`. */
  waitForScrapes(since?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a real Prometheus on 127.0.0.1, scraping the targets every `intervalMs` (timing out at 80% of it),
 * with its storage in a temp dir.
 */
export async function startPrometheus(
  targets: readonly Target[],
  extraFlags: readonly string[] = [],
  intervalMs = 500,
): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'routemeter-prom-'));
  const port = await freePort();
  const config = [
    'global:',
    `  scrape_interval: ${intervalMs}ms`,
    `  scrape_timeout: ${Math.round(intervalMs * 0.8)}ms`,
    'scrape_configs:',
    ...targets.flatMap((t) => [
      `  - job_name: ${t.job}`,
      `    metrics_path: ${t.metricsPath ?? '/metrics'}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${t.port}']`,
    ]),
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), `${config}\n`);
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...extraFlags,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`prometheus ${MISSING} (${error.message})`)));
    child.once('spawn', resolve);
  });
  await spawned;
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      const res = await fetch(`${url}/-/ready`);
      if (!res.ok) throw new Error(`prometheus not ready: ${res.status}`);
    }, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: PromResult[] } };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data.result;
    },
    async waitForScrapes(since = Date.now()) {
      await eventually(async () => {
        const res = await fetch(`${url}/api/v1/targets`);
        const body = (await res.json()) as {
          data: { activeTargets: { health: string; lastScrape: string; lastError: string; scrapeUrl: string }[] };
        };
        const active = body.data.activeTargets;
        if (active.length !== targets.length)
          throw new Error(`expected ${targets.length} targets, got ${active.length}`);
        for (const t of active) {
          if (t.health !== 'up' || Date.parse(t.lastScrape) < since) {
            throw new Error(`target ${t.scrapeUrl} not scraped yet: ${t.health} ${t.lastError}`);
          }
        }
      }, 20_000);
    },
    stop,
  };
}

/** Runs `promtool check metrics` on an exposition; resolves to promtool's complaints ('' when clean). */
export async function promtoolCheckMetrics(body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error(`promtool ${MISSING}`));
      else resolve(`${stdout}${stderr}`.trim());
    });
    child.stdin?.end(body);
  });
}
