import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The other tests run the sources; these run the built packages the way users load them, as ESM and as CJS.
const expressDir = fileURLToPath(new URL('../../express/', import.meta.url));

const program = (load: string) => `
${load}
const { Registry } = loaded.prom;
const registry = new Registry();
const app = loaded.express();
app.use(loaded.routemeter({ registry, defaultMetrics: false }));
app.get('/users/:id', (req, res) => res.send('ok'));
const server = app.listen(0, '127.0.0.1', async () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  await fetch(base + '/users/7');
  const body = await (await fetch(base + '/metrics')).text();
  console.log(body.split('\\n').find((line) => line.startsWith('http_requests_total{')));
  server.close();
});
`;

const esm = program(`
const loaded = {
  routemeter: (await import('@routemeter/express')).routemeter,
  express: (await import('express')).default,
  prom: await import('prom-client'),
};
if (typeof (await import('@routemeter/core/adapter')).createRecorder !== 'function') throw new Error('core/adapter ESM');
if (typeof (await import('@routemeter/core')).serveMetrics !== 'function') throw new Error('core ESM');`);

const cjs = program(`
const loaded = { routemeter: require('@routemeter/express').routemeter, express: require('express'), prom: require('prom-client') };
if (require('@routemeter/express').default !== loaded.routemeter) throw new Error('default export');
if (typeof require('@routemeter/core/adapter').createRecorder !== 'function') throw new Error('core/adapter CJS');
if (typeof require('@routemeter/core').serveMetrics !== 'function') throw new Error('core CJS');`);

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: expressDir, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

describe('built packages (npm test builds them first)', () => {
  beforeAll(() => {
    if (!existsSync(`${expressDir}dist/index.js`)) throw new Error('packages are not built: run `npm run build` first');
  });

  const expected = 'http_requests_total{method="GET",route="/users/:id",status_code="200"} 1';

  it('work when imported as ES modules', async () => {
    expect(await run(['--input-type=module', '-e', esm])).toBe(expected);
  });

  it('work when required as CommonJS', async () => {
    expect(await run(['--input-type=commonjs', '-e', cjs])).toBe(expected);
  });
});
