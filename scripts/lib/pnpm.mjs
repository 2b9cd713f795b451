// Runs the pnpm pinned in package.json's `packageManager`, installing it into .tools/ on first use.
// Corepack cannot verify its downloads on every machine, so plain `npm` commands bootstrap pnpm themselves.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = packageManager.replace(/^pnpm@/, '');
const toolDir = join(root, '.tools', `pnpm-${version}`);
const pnpmEntry = join(toolDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Environment for child processes: pnpm and the workspace's binaries on PATH. */
export const env = {
  ...process.env,
  PATH: [join(toolDir, 'node_modules', '.bin'), join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
};

function ensurePnpm() {
  if (existsSync(pnpmEntry)) return;
  console.log(`installing pnpm ${version} into .tools/`);
  run(
    npm,
    ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', toolDir, `pnpm@${version}`],
    { quiet: true },
  );
}

/**
 * Runs a command in the repository root and exits with its code if it fails. `quiet: true` keeps its output
 * to show only if it fails (a build that works has nothing to say).
 */
export function run(command, args, { quiet = false, ...options } = {}) {
  const stdio = quiet ? 'pipe' : 'inherit';
  const result = spawnSync(command, args, { cwd: root, stdio, env, encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    process.exit(result.status ?? 1);
  }
}

export function pnpm(args, options) {
  ensurePnpm();
  run(process.execPath, [pnpmEntry, ...args], options);
}

/** Installs the workspace from the lockfile when node_modules is missing or older than the lockfile. */
export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs);
  if (!stale) return;
  ensurePnpm();
  console.log('installing the workspace from pnpm-lock.yaml');
  pnpm(['install', '--frozen-lockfile', '--reporter=append-only'], { quiet: true });
}
