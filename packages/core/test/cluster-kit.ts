// Starting the cluster fixture (test/fixtures/cluster-app.mjs) on routemeter's sources, and talking to it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { send } from '../../../test-kit/http.js';

const fixture = fileURLToPath(new URL('./fixtures/cluster-app.mjs', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
/** Maps `@routemeter/core` to src/, for tsx: the fixture and its workers run the code under test, not dist/. */
const sourcesTsconfig = fileURLToPath(new URL('../../../test-kit/examples-tsconfig.json', import.meta.url));

export interface WorkerInfo {
  readonly index: number;
  readonly id: number;
  readonly pid: number;
}

export interface WorkerExit {
  readonly index: number;
  readonly id: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export interface RunningCluster {
  readonly app: number;
  readonly metrics: number;
  readonly control: number;
  readonly primary: ChildProcess;
  /** Everything the primary and the workers wrote to stderr so far. */
  stderr(): string;
  /** Worker exits the primary has reported so far. */
  readonly exits: WorkerExit[];
  /** Workers killed by /kill-in-scrape, and whether the primary still saw them connected when the scrape began. */
  readonly killedInScrape: { readonly id: number; readonly connected: boolean }[];
  workers(): Promise<WorkerInfo[]>;
  controlPost(path: string): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<RunningCluster>();

/** Stops every cluster still running (for afterEach). */
export async function stopClusters(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

export async function startCluster(env: Record<string, string>): Promise<RunningCluster> {
  const primary = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    env: { ...process.env, TSX_TSCONFIG_PATH: sourcesTsconfig, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  primary.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exits: WorkerExit[] = [];
  const killedInScrape: RunningCluster['killedInScrape'] = [];
  const lines = createInterface({ input: primary.stdout as NodeJS.ReadableStream });
  const ports = new Promise<{ app: number; metrics: number; control: number }>((resolve, reject) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as {
        exit?: WorkerExit;
        killedInScrape?: RunningCluster['killedInScrape'][number];
      };
      if (message.exit !== undefined) exits.push(message.exit);
      else if (message.killedInScrape !== undefined) killedInScrape.push(message.killedInScrape);
      else resolve(message as { app: number; metrics: number; control: number });
    });
    primary.once('exit', (code) =>
      reject(new Error(`the cluster primary exited (${code}) before it listened: ${stderr}`)),
    );
  });
  const cluster: RunningCluster = {
    ...(await ports),
    primary,
    stderr: () => stderr,
    exits,
    killedInScrape,
    async workers() {
      return JSON.parse((await send(cluster.control, '/workers')).body) as WorkerInfo[];
    },
    async controlPost(path) {
      const reply = await send(cluster.control, path, { method: 'POST' });
      if (reply.status !== 200) throw new Error(`${path}: ${reply.status}`);
    },
    async stop() {
      running.delete(cluster);
      if (primary.exitCode !== null || primary.signalCode !== null) return;
      const exited = once(primary, 'exit');
      primary.kill('SIGTERM');
      await exited;
    },
  };
  running.add(cluster);
  return cluster;
}
