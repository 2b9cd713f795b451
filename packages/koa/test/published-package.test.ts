import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { koaMajor } from './serve.js';

// The other tests run the sources; these run the built package the way users load it, as ESM and as CJS,
// each with the project's Koa major (koa2 loads the `koa2` alias) and @koa/router 15.
const packageDir = fileURLToPath(new URL('../', import.meta.url));
const koa = koaMajor === 2 ? 'koa2' : 'koa';

const program = `
const Koa = loaded.koa.default ?? loaded.koa;
const Router = loaded.router.default ?? loaded.router;
const { routemeter } = loaded.adapter;
if (loaded.adapter.default !== routemeter) throw new Error('the default export is not routemeter');
const app = new Koa();
const registry = new loaded.prom.Registry();
app.use(routemeter({ registry, defaultMetrics: false }));
const users = new Router({ prefix: '/orgs/:org/users' });
users.get('/:id', (ctx) => { ctx.body = 'user'; });
app.use(users.routes());
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = 'http://127.0.0.1:' + server.address().port;
await fetch(base + '/orgs/acme/users/7');
const body = await (await fetch(base + '/metrics')).text();
console.log(body.split('\\n').find((line) => line.startsWith('http_requests_total{')));
server.close();
`;

const names = { adapter: '@routemeter/koa', koa, router: '@koa/router', prom: 'prom-client' };

const esm = `
const loaded = {};
for (const [key, name] of Object.entries(${JSON.stringify(names)})) loaded[key] = await import(name);
${program}`;

// CommonJS has no top-level await: the program runs in an async function.
const cjs = `
const loaded = {};
for (const [key, name] of Object.entries(${JSON.stringify(names)})) loaded[key] = require(name);
(async () => {${program}})();`;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: packageDir, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

describe('the built package (npm test builds it first)', () => {
  beforeAll(() => {
    if (!existsSync(`${packageDir}dist/index.js`)) throw new Error('packages are not built: run `npm run build` first');
  });

  const line = 'http_requests_total{method="GET",route="/orgs/:org/users/:id",status_code="200"} 1';

  it('works when imported as an ES module', async () => {
    expect(await run(['--input-type=module', '-e', esm])).toBe(line);
  });

  it('works when required as CommonJS', async () => {
    expect(await run(['--input-type=commonjs', '-e', cjs])).toBe(line);
  });
});
