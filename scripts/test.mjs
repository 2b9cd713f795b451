#!/usr/bin/env node
// `npm test`: from a fresh clone with Node and npm only, install, build, lint, type-check, run every test
// (on Node 20, 22 and 24), and check each package as it would be published. Stops at the first failure.
// `npm test -- --quick` runs the suite on the current Node only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInstalled, env, pnpm, root, run } from './lib/pnpm.mjs';

const quick = process.argv.includes('--quick');
const otherNodes = quick ? [] : ['22', '24'];
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const packages = ['--recursive', '--filter', './packages/*'];

const step = (title) => console.log(`\n> ${title}`);

step('install');
ensureInstalled();
step('build');
pnpm([...packages, 'run', 'build']);
step('lint and format (biome)');
run(join(root, 'node_modules', '.bin', 'biome'), ['check', '.']);
step('type-check');
pnpm([...packages, 'run', 'typecheck']);
step('published packages (publint, @arethetypeswrong/cli)');
pnpm([...packages, '--workspace-concurrency=1', 'run', 'check:package']);

const tally = { passed: 0, failed: 0 };
runSuite(process.execPath, `Node ${process.versions.node}`);
for (const major of otherNodes) {
  const node = spawnSync('npx', ['-y', `node@${major}`, '-p', 'process.execPath'], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (node.status !== 0) {
    console.error(node.stderr);
    process.exit(1);
  }
  runSuite(node.stdout.trim(), `Node ${major}`);
}
console.log(`\ntests: ${tally.passed} passed, ${tally.failed} failed`);
process.exit(tally.failed === 0 ? 0 : 1);

/** Runs the whole vitest suite with one Node binary, adding its counts to the tally. */
function runSuite(nodeBinary, label) {
  step(`tests on ${label}`);
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-vitest-'));
  const report = join(dir, 'report.json');
  const result = spawnSync(
    nodeBinary,
    [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    { cwd: root, env, stdio: 'inherit' },
  );
  let counts = { numPassedTests: 0, numFailedTests: 1 };
  try {
    counts = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    console.error(`no vitest report from ${label}`);
  }
  rmSync(dir, { recursive: true, force: true });
  tally.passed += counts.numPassedTests;
  tally.failed += counts.numFailedTests;
  if (result.status !== 0 || counts.numFailedTests > 0) {
    console.log(`\ntests: ${tally.passed} passed, ${Math.max(tally.failed, 1)} failed (${label})`);
    process.exit(1);
  }
}
