import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Every package under packages/, packed as a release packs it (the pinned pnpm's `pack`, which rewrites
// `workspace:` ranges), and read back from the tarball. Needs the built dist/ (npm test builds first).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pnpm = join(root, 'scripts', 'pnpm.mjs');
const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const out = mkdtempSync(join(tmpdir(), 'routemeter-tarballs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Manifest {
  name: string;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  keywords?: string[];
  engines?: { node?: string };
  files?: string[];
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every file path an `exports` map points at. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports];
  if (exports === null || typeof exports !== 'object') return [];
  return Object.values(exports).flatMap(exportTargets);
}

function pack(dir: string): { manifest: Manifest; files: string[] } {
  const before = new Set(readdirSync(out));
  execFileSync(process.execPath, [pnpm, '--dir', dir, 'pack', '--pack-destination', out], { stdio: 'pipe' });
  const tarball = readdirSync(out).find((name) => !before.has(name) && name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball for ${dir}`);
  const path = join(out, tarball);
  const files = execFileSync('tar', ['-tzf', path], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((name) => name.replace(/^package\//, ''));
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', path, 'package/package.json'], { encoding: 'utf8' }));
  return { manifest, files };
}

describe.each(packages)('packages/%s as published', (name) => {
  const dir = join(root, 'packages', name);
  const source = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

  it('says what it is, where it lives and what it needs', () => {
    expect(source.license).toBe('MIT');
    expect(source.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/routemeter/routemeter.git',
      directory: `packages/${name}`,
    });
    expect(source.homepage).toMatch(
      new RegExp(`^https://github\\.com/routemeter/routemeter/tree/main/packages/${name}`),
    );
    expect(source.bugs?.url).toBe('https://github.com/routemeter/routemeter/issues');
    expect(source.keywords?.length).toBeGreaterThan(2);
    expect(source.engines?.node).toMatch(/^>=\d+/);
    expect(source.files).toEqual(['dist', 'README.md', 'LICENSE']);
  });

  it('packs LICENSE, README and dist/ only, with every export inside and no workspace: range', () => {
    const { manifest, files } = pack(dir);
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    expect(files.filter((file) => !['LICENSE', 'README.md', 'package.json'].includes(file))).toSatisfy(
      (rest: string[]) => rest.length > 0 && rest.every((file) => file.startsWith('dist/')),
    );
    for (const target of exportTargets(manifest.exports)) expect(files).toContain(target.replace(/^\.\//, ''));
    const ranges = { ...manifest.dependencies, ...manifest.peerDependencies };
    for (const [dependency, range] of Object.entries(ranges)) {
      expect(range, `${manifest.name} → ${dependency}`).not.toMatch(/^workspace:/);
    }
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
  });
});
