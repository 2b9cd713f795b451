// Starting variant servers pinned to the server core, and talking to them over IPC.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const serverEntry = fileURLToPath(new URL('../server.mjs', import.meta.url));

const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
const cores = availableParallelism();
/** The server gets the last core, the load generator (this process) the first. */
export const SERVER_CORE = cores - 1;
export const LOAD_CORE = 0;
export const pinned = hasTaskset && cores >= 2;

/**
 * Runs a bench script as its own process pinned to the server core and resolves with the JSON it prints on
 * stdout (its `--worker` mode).
 */
export function runPinnedJson(script, args, what) {
  const all = [script, ...args];
  const [command, argv] = pinned
    ? ['taskset', ['-c', String(SERVER_CORE), process.execPath, ...all]]
    : [process.execPath, all];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${what} exited with ${code}`)),
    );
  });
}

/** Pins this process (all its threads) to the load generator's core. */
export function pinSelf() {
  if (!pinned) return false;
  return (
    spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' }).status === 0
  );
}

/**
 * Starts one variant in its own process, pinned to the server core (with its children, if it forks any).
 * `entry` and `args` run another server script than bench/server.mjs, one that reports `ports` if it has several.
 * @returns {Promise<{ name: string, port: number, ports?: object, pid: number, ask: (cmd: string) => Promise<any>, stop: () => Promise<void> }>}
 */
export function startServer(
  name,
  { scrapeRoutes = false, nodeArgs = [], timeoutMs = 30_000, entry = serverEntry, args: entryArgs = [name] } = {},
) {
  const args = [...nodeArgs, '--expose-gc', entry, ...entryArgs, ...(scrapeRoutes ? ['--scrape-routes'] : [])];
  const [command, argv] = pinned
    ? ['taskset', ['-c', String(SERVER_CORE), process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise((resolve) => child.once('exit', resolve));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name}: server did not start in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      for (const { reject: fail } of pending.values()) fail(new Error(`${name}: server exited (${code})`));
      reject(new Error(`${name}: server exited with code ${code} before it was ready`));
    });
    child.on('message', (message) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve({
          name,
          port: message.port,
          ports: message.ports,
          pid: message.pid,
          ask(cmd) {
            if (exited) return Promise.reject(new Error(`${name}: server has exited`));
            const id = nextId++;
            return new Promise((ok, fail) => {
              pending.set(id, { resolve: ok, reject: fail });
              child.send({ id, cmd });
            });
          },
          async stop() {
            if (exited) return;
            const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.send({ id: 0, cmd: 'stop' });
            await exitPromise;
            clearTimeout(killer);
          },
        });
        return;
      }
      const waiting = pending.get(message.id);
      if (waiting === undefined) return;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(`${name}: ${message.error}`));
      else waiting.resolve(message);
    });
  });
}
