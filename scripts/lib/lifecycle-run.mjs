// Apps created and closed: node --expose-gc scripts/lib/lifecycle-run.mjs <express|fastify> <apps>
// Each app has its own registry and routemeter's default options (process metrics on), serves one
// request and one scrape on 127.0.0.1, and is closed. Prints what the heap kept, as JSON.
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './pnpm.mjs';

const [adapter, appsArg] = process.argv.slice(2);
const apps = Number(appsArg);
const load = createRequire(join(root, 'packages', adapter, 'package.json'));
const { Registry } = load('prom-client');
const { routemeter } = load(`@routemeter/${adapter}`);
const logger = { warn() {} };

async function startApp() {
  const registry = new Registry();
  if (adapter === 'express') {
    const app = load('express')();
    const middleware = routemeter({ registry, logger });
    app.use(middleware);
    app.get('/users/:id', (req, res) => res.send(req.params.id));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: server.address().port,
      async close() {
        middleware.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }
  const app = load('fastify')({ logger: false });
  await app.register(routemeter, { registry, logger });
  app.get('/users/:id', async (req) => req.params.id);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, close: () => app.close() };
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    })
      .on('error', reject)
      .end();
  });
}

async function cycle(count) {
  for (let i = 0; i < count; i++) {
    const app = await startApp();
    if ((await get(app.port, `/users/${i}`)) !== 200) throw new Error('request failed');
    if ((await get(app.port, '/metrics')) !== 200) throw new Error('scrape failed');
    await app.close();
  }
}

async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

await cycle(Math.min(50, apps)); // warm up: module state, JIT, the shared process metrics
const before = await settledHeap();
await cycle(apps);
const after = await settledHeap();
console.log(JSON.stringify({ adapter, apps, retainedMB: Math.round(((after - before) / 1e6) * 100) / 100 }));
