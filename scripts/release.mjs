#!/usr/bin/env node
// `npm run release`: publishes every @routemeter package, with npm provenance, through the pinned pnpm.
// It stops first if changesets are pending (`npm run release:version` turns them into versions and
// changelogs: commit that, then release), then builds and runs the whole `npm test`. Provenance needs the
// OIDC token of a CI run (.github/workflows/release.yml); npm's login or NPM_TOKEN authorizes the upload.
//
//   npm run release -- --dry-run     everything but the upload: pending changesets reported, not fatal;
//                                    no clean-tree check; pnpm shows each tarball it would publish
//   npm run release -- --no-build --no-test   skip the build and `npm test` (for this script's own test,
//                                    which runs inside `npm test`, after its build: rebuilding would pull
//                                    dist/ from under the tests running beside it)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureInstalled, env, pnpm, root, run } from './lib/pnpm.mjs';

const USAGE = 'usage: npm run release -- [--dry-run] [--no-build] [--no-test]';
let args;
try {
  ({ values: args } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'no-test': { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
const dryRun = args['dry-run'];
const step = (title) => console.log(`\n> ${title}`);

step('install');
ensureInstalled();

step('pending changesets');
const pending = pendingReleases();
if (pending.length === 0) console.log('none: the versions in package.json are the ones to publish');
else {
  for (const release of pending) console.log(`${release.name} ${release.oldVersion} → ${release.newVersion}`);
  const fix = 'run `npm run release:version`, review and commit the versions and CHANGELOG.md files, then release';
  if (!dryRun) {
    console.error(`${pending.length} package(s) have pending changesets: ${fix}`);
    process.exit(1);
  }
  console.log(`(a real release would stop here: ${fix})`);
}

if (!dryRun) {
  step('clean working tree');
  const status = spawnSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });
  if (status.status !== 0 || status.stdout.trim() !== '') {
    console.error(`release from a clean checkout of what you tested:\n${status.stdout}${status.stderr}`);
    process.exit(1);
  }
}

if (args['no-build']) console.log('\n> build skipped (--no-build)');
else {
  step('build');
  pnpm(['--recursive', '--filter', './packages/*', 'run', 'build'], { quiet: true });
}
if (args['no-test']) console.log('\n> npm test skipped (--no-test)');
else {
  step('npm test');
  run('npm', ['test']);
}

step(dryRun ? 'publish (dry run: nothing is uploaded)' : 'publish');
// pnpm rewrites `workspace:` ranges to real versions and skips versions the registry already has.
pnpm([
  'publish',
  '--recursive',
  '--filter',
  './packages/*',
  '--access',
  'public',
  '--provenance',
  ...(dryRun ? ['--dry-run', '--no-git-checks'] : []),
]);

/** The version bumps the pending changesets ask for, from `changeset status`. */
function pendingReleases() {
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-release-'));
  try {
    const output = join(dir, 'status.json');
    const changeset = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
    const status = spawnSync(process.execPath, [changeset, 'status', `--output=${output}`], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    if (status.status !== 0) {
      console.error(status.stdout + status.stderr);
      process.exit(1);
    }
    return JSON.parse(readFileSync(output, 'utf8')).releases.filter((release) => release.type !== 'none');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
