import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { nestMajor } from './serve.js';

// The other tests run the sources; these run the built package the way users load it, as ESM and as CJS,
// with this package's Nest (12: ESM-only, which CommonJS loads with require(esm), Node ≥ 20.19).
const packageDir = fileURLToPath(new URL('../', import.meta.url));

const program = (load: string) => `
${load}
const { Controller, Get, Module } = loaded.common;
class Users { get() { return 'user'; } }
Get(':id')(Users.prototype, 'get', Object.getOwnPropertyDescriptor(Users.prototype, 'get'));
Controller('users')(Users);
for (const Adapter of [loaded.express.ExpressAdapter, loaded.fastify.FastifyAdapter]) {
  const registry = new loaded.prom.Registry();
  class App {}
  Module({ imports: [loaded.nest.RoutemeterModule.forRoot({ registry, defaultMetrics: false })], controllers: [Users] })(App);
  const app = await loaded.core.NestFactory.create(App, new Adapter(), { logger: false });
  app.setGlobalPrefix('api');
  await app.listen(0, '127.0.0.1');
  const base = 'http://127.0.0.1:' + app.getHttpServer().address().port;
  await fetch(base + '/api/users/7');
  const body = await (await fetch(base + '/metrics')).text();
  console.log(body.split('\\n').find((line) => line.startsWith('http_requests_total{')));
  await app.close();
}
`;

const names = {
  nest: '@routemeter/nestjs',
  common: '@nestjs/common',
  core: '@nestjs/core',
  express: '@nestjs/platform-express',
  fastify: '@nestjs/platform-fastify',
  prom: 'prom-client',
};

const esm = program(`
await import('reflect-metadata');
const loaded = {};
for (const [key, name] of Object.entries(${JSON.stringify(names)})) loaded[key] = await import(name);`);

// CommonJS has no top-level await: the program runs in an async function.
const cjs = `
require('reflect-metadata');
const loaded = {};
for (const [key, name] of Object.entries(${JSON.stringify(names)})) loaded[key] = require(name);
(async () => {${program('')}})();`;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: packageDir, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

describe.skipIf(nestMajor !== 12)('the built package (npm test builds it first)', () => {
  beforeAll(() => {
    if (!existsSync(`${packageDir}dist/index.js`)) throw new Error('packages are not built: run `npm run build` first');
  });

  const line = 'http_requests_total{method="GET",route="/api/users/:id",status_code="200"} 1';
  const expected = `${line}\n${line}`;

  it('works when imported as an ES module, on Express and Fastify', async () => {
    expect(await run(['--input-type=module', '-e', esm])).toBe(expected);
  });

  it('works when required as CommonJS, on Express and Fastify', async () => {
    expect(await run(['--input-type=commonjs', '-e', cjs])).toBe(expected);
  });
});
