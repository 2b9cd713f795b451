import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

interface Packed {
  tarball: string;
  manifest: Manifest;
  files: string[];
}
const packed = new Map<string, Packed>();

/** Packs a package once; the scratch app below installs the same tarballs. */
function pack(dir: string): Packed {
  const done = packed.get(dir);
  if (done !== undefined) return done;
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
  const result = { tarball: path, manifest, files };
  packed.set(dir, result);
  return result;
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

// The tarballs installed into a scratch app outside the workspace, as npm installs them (each unpacked into
// node_modules), with only what each manifest declares beside them: the dependencies and peers it names,
// linked from the workspace (no registry needed). Then the app runs a request through every adapter as ES
// modules and as CommonJS, and type-checks against the packed types with `nodenext` and `bundler` resolution.
describe('the tarballs in a scratch app', () => {
  const app = mkdtempSync(join(tmpdir(), 'routemeter-scratch-app-'));
  afterAll(() => rmSync(app, { recursive: true, force: true }));
  /** What the app itself imports, besides @routemeter/*: from the package that tests with it. */
  const appDependencies: Record<string, string> = {
    '@nestjs/platform-express': 'nestjs',
    '@nestjs/platform-fastify': 'nestjs',
    'reflect-metadata': 'nestjs',
    rxjs: 'nestjs',
    '@koa/router': 'koa',
    '@types/express': 'express',
    '@types/koa': 'koa',
  };

  function link(name: string, fromPackage: string): void {
    const target = join(app, 'node_modules', name);
    if (existsSync(target)) return;
    const source = join(root, 'packages', fromPackage, 'node_modules', name);
    const resolved = existsSync(source) ? source : join(root, 'node_modules', name);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(realpathSync(resolved), target, 'dir');
  }

  beforeAll(() => {
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true }));
    for (const name of packages) {
      const { tarball, manifest } = pack(join(root, 'packages', name));
      const into = join(app, 'node_modules', manifest.name);
      mkdirSync(into, { recursive: true });
      execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
      const needs = { ...manifest.dependencies, ...manifest.peerDependencies };
      for (const dependency of Object.keys(needs)) {
        if (!dependency.startsWith('@routemeter/') && dependency !== '@opentelemetry/api') link(dependency, name);
      }
    }
    for (const [dependency, fromPackage] of Object.entries(appDependencies)) link(dependency, fromPackage);
    link('@types/node', 'core');
  }, 120_000);

  const requests = `
const line = (text) => text.split('\\n').find((l) => l.startsWith('http_requests_total{'));
const scrape = async (base) => {
  await fetch(base + '/users/7');
  return line(await (await fetch(base + '/metrics')).text());
};
const seen = {};
{
  const app = express();
  app.use(expressRoutemeter({ registry: new prom.Registry(), defaultMetrics: false }));
  app.get('/users/:id', (req, res) => res.send('user'));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  seen.express = await scrape('http://127.0.0.1:' + server.address().port);
  server.close();
}
{
  const app = fastify();
  await app.register(fastifyRoutemeter, { registry: new prom.Registry(), defaultMetrics: false });
  app.get('/users/:id', async () => 'user');
  seen.fastify = await scrape(await app.listen({ port: 0, host: '127.0.0.1' }));
  await app.close();
}
{
  const app = new Koa();
  app.use(koaRoutemeter({ registry: new prom.Registry(), defaultMetrics: false }));
  const router = new Router();
  router.get('/users/:id', (ctx) => { ctx.body = 'user'; });
  app.use(router.routes());
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  seen.koa = await scrape('http://127.0.0.1:' + server.address().port);
  server.close();
}
class Users { get() { return 'user'; } }
nest.Get(':id')(Users.prototype, 'get', Object.getOwnPropertyDescriptor(Users.prototype, 'get'));
nest.Controller('users')(Users);
for (const [platform, Adapter] of [['express', ExpressAdapter], ['fastify', FastifyAdapter]]) {
  class App {}
  nest.Module({ imports: [RoutemeterModule.forRoot({ registry: new prom.Registry(), defaultMetrics: false })], controllers: [Users] })(App);
  const app = await NestFactory.create(App, new Adapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  seen['nest-' + platform] = await scrape('http://127.0.0.1:' + app.getHttpServer().address().port);
  await app.close();
}
const server = await serveMetrics({ registry: new prom.Registry(), port: 0, host: '127.0.0.1' });
seen.serveMetrics = typeof server.close === 'function' && typeof createRecorder === 'function';
await server.close();
console.log(JSON.stringify(seen));
`;
  const expected = {
    express: 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
    fastify: 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
    koa: 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
    'nest-express': 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
    'nest-fastify': 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
    serveMetrics: true,
  };
  const run = (file: string, source: string) => {
    writeFileSync(join(app, file), source);
    return JSON.parse(execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 60_000 }));
  };

  it('runs a request through every adapter as ES modules', () => {
    const esm = `import 'reflect-metadata';
import express from 'express';
import fastify from 'fastify';
import * as prom from 'prom-client';
import * as nest from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { serveMetrics } from '@routemeter/core';
import { createRecorder } from '@routemeter/core/adapter';
import { routemeter as expressRoutemeter } from '@routemeter/express';
import fastifyRoutemeter from '@routemeter/fastify';
import { routemeter as koaRoutemeter } from '@routemeter/koa';
import { RoutemeterModule } from '@routemeter/nestjs';
import Koa from 'koa';
import Router from '@koa/router';
${requests}`;
    expect(run('app.mjs', esm)).toEqual(expected);
  }, 90_000);

  it('runs a request through every adapter as CommonJS', () => {
    const cjs = `require('reflect-metadata');
const express = require('express');
const fastify = require('fastify');
const prom = require('prom-client');
const nest = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ExpressAdapter } = require('@nestjs/platform-express');
const { FastifyAdapter } = require('@nestjs/platform-fastify');
const { serveMetrics } = require('@routemeter/core');
const { createRecorder } = require('@routemeter/core/adapter');
const { routemeter: expressRoutemeter } = require('@routemeter/express');
const { routemeter: fastifyRoutemeter } = require('@routemeter/fastify');
const { routemeter: koaRoutemeter } = require('@routemeter/koa');
const { RoutemeterModule } = require('@routemeter/nestjs');
const Koa = require('koa');
const Router = require('@koa/router');
(async () => {
${requests}
})();`;
    expect(run('app.cjs', cjs)).toEqual(expected);
  }, 90_000);

  it.each(['nodenext', 'bundler'])(
    'type-checks a TypeScript app with moduleResolution %s',
    (resolution) => {
      const source = `import express, { type Request } from 'express';
import { RoutemeterOptionError, serveMetrics } from '@routemeter/core';
import { createRecorder } from '@routemeter/core/adapter';
import { type ExpressRoutemeterOptions, routemeter } from '@routemeter/express';
import fastifyRoutemeter, { type FastifyRoutemeterOptions } from '@routemeter/fastify';
import { type KoaRoutemeterOptions, routemeter as koaRoutemeter } from '@routemeter/koa';
import { RoutemeterModule } from '@routemeter/nestjs';

const options: ExpressRoutemeterOptions = { labels: { tenant: (req: Request) => req.get('x-tenant') ?? 'none' } };
express().use(routemeter(options));
// @ts-expect-error maxRoutes is a number: the packed types are read, not \`any\`.
routemeter({ maxRoutes: 'many' });
const fastifyOptions: FastifyRoutemeterOptions = { exclude: ['/health'] };
const koaOptions: KoaRoutemeterOptions = { labels: { tenant: (ctx) => ctx.get('x-tenant') || 'none' } };
koaRoutemeter(koaOptions);
RoutemeterModule.forRoot({ requestsInFlight: true });
createRecorder<Request, unknown>(undefined).close();
export { fastifyOptions, fastifyRoutemeter, RoutemeterOptionError, serveMetrics };
`;
      const dir = join(app, resolution);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'app.ts'), source);
      const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
      const compilerOptions = {
        module,
        moduleResolution: resolution,
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(app, 'node_modules', '@types')],
      };
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }));
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
    90_000,
  );
});
