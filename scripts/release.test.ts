// The release tooling as a maintainer uses it: the changesets config versions the published packages
// together and writes their changelogs; `npm run release -- --dry-run` goes through every step but the
// upload; a real release stops while changesets are pending; the GitHub workflows are valid.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const published = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => JSON.parse(readFileSync(join(root, 'packages', entry.name, 'package.json'), 'utf8')))
  .filter((manifest) => manifest.private !== true);
const changesetBin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');

describe('changesets', () => {
  it('versions every published package together', () => {
    const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
    expect([...config.fixed[0]].sort()).toEqual(published.map((m) => m.name).sort());
    expect(config.access).toBe('public');
  });

  it('`npm run release:version` bumps the versions and writes each CHANGELOG.md (in a copy of the workspace)', () => {
    const copy = mkdtempSync(join(tmpdir(), 'routemeter-version-'));
    try {
      // What changesets reads: the workspace's manifests and the .changeset folder.
      for (const file of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(root, file), join(copy, file));
      cpSync(join(root, '.changeset'), join(copy, '.changeset'), { recursive: true });
      const manifests = execFileSync('git', ['ls-files', '*package.json'], { cwd: root, encoding: 'utf8' });
      for (const file of manifests.split('\n').filter((f) => f.endsWith('package.json') && f !== 'package.json')) {
        mkdirSync(join(copy, dirname(file)), { recursive: true });
        cpSync(join(root, file), join(copy, file));
      }
      writeFileSync(
        join(copy, '.changeset', 'test-change.md'),
        "---\n'@routemeter/fastify': minor\n---\n\nA change only Fastify users see.\n",
      );
      const result = spawnSync(process.execPath, [changesetBin, 'version'], { cwd: copy, encoding: 'utf8' });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      const [major, minor] = (published[0].version as string).split('.').map(Number);
      const next = major === 0 ? `0.${(minor as number) + 1}.0` : `${major}.${minor}.0`;
      for (const manifest of published) {
        const dir = join(copy, 'packages', manifest.name.replace('@routemeter/', ''));
        expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version, manifest.name).toBe(next);
        expect(readFileSync(join(dir, 'CHANGELOG.md'), 'utf8')).toMatch(
          new RegExp(`^# ${manifest.name}\\n\\n## ${next}`),
        );
      }
      expect(readFileSync(join(copy, 'packages', 'fastify', 'CHANGELOG.md'), 'utf8')).toContain(
        'A change only Fastify users see.',
      );
      expect(existsSync(join(copy, '.changeset', 'test-change.md'))).toBe(false);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('npm run release', () => {
  const release = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'scripts', 'release.mjs'), ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 240_000,
    });

  it('--dry-run shows every package it would publish, with provenance, uploading nothing', () => {
    // npm test has built dist/; building again here would empty it under the tests running beside this one.
    const result = release('--dry-run', '--no-build', '--no-test');
    const output = result.stdout + result.stderr;
    expect(result.status, output).toBe(0);
    expect(output).toContain('> publish (dry run: nothing is uploaded)');
    for (const manifest of published) {
      expect(output).toContain(`+ ${manifest.name}@${manifest.version}`);
      expect(output).toContain(`📦  ${manifest.name}@${manifest.version}`);
    }
    expect(output).toMatch(
      /Publishing to https:\/\/registry\.npmjs\.org\/ with tag latest and public access \(dry-run\)/,
    );
    // The build step is quiet when it works.
    expect(output).not.toMatch(/build\$ tsup/);
  }, 300_000);

  it('stops before building while changesets are pending, naming the fix', () => {
    const pending = join(root, '.changeset', 'release-test-pending.md');
    writeFileSync(pending, "---\n'@routemeter/core': patch\n---\n\nPending.\n");
    try {
      const result = release('--no-build', '--no-test');
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('have pending changesets: run `npm run release:version`');
      expect(result.stdout).not.toContain('> publish');
    } finally {
      rmSync(pending, { force: true });
    }
  }, 120_000);
});

describe('.github/workflows', () => {
  const validator = join(root, 'node_modules', '@action-validator', 'cli', 'cli.mjs');
  const workflows = readdirSync(join(root, '.github', 'workflows')).filter((f) => f.endsWith('.yml'));
  const validate = (file: string) => spawnSync(process.execPath, [validator, file], { encoding: 'utf8' });

  it.each(workflows)('%s is a valid workflow (action-validator)', (file) => {
    const result = validate(join(root, '.github', 'workflows', file));
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('the validator rejects a broken workflow', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routemeter-workflow-'));
    try {
      const broken = readFileSync(join(root, '.github', 'workflows', 'ci.yml'), 'utf8').replace('steps:', 'stepz:');
      writeFileSync(join(dir, 'ci.yml'), broken);
      const result = validate(join(dir, 'ci.yml'));
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain("Additional property 'stepz' is not allowed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CI runs npm test on Node 20, 22 and 24 with Prometheus installed', () => {
    const ci = readFileSync(join(root, '.github', 'workflows', 'ci.yml'), 'utf8');
    expect(ci).toMatch(/^ {8}node: \[20, 22, 24\]$/m);
    expect(ci).toMatch(/^ {4}container: node:\$\{\{ matrix\.node \}\}-bookworm$/m);
    expect(ci).toMatch(/apt-get install -y -qq prometheus/);
    expect(ci).toMatch(/^ {6}- run: npm test -- --quick$/m);
  });
});
