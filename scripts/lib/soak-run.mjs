// One adapter's soak: node --expose-gc scripts/lib/soak-run.mjs <express|fastify> <seconds>
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './pnpm.mjs';

const [adapter, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const load = createRequire(join(root, 'packages', adapter, 'package.json'));
const { Registry } = load('prom-client');
const { routemeter } = load(`@routemeter/${adapter}`);
const registry = new Registry();
const options = { registry, defaultMetrics: false, requestsInFlight: true };

/** The same four routes on either framework; resolves to the port. */
async function start() {
  const slow = (done) => setTimeout(done, 300);
  if (adapter === 'express') {
    const app = load('express')();
    app.use(routemeter(options));
    app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/slow', (_req, res) => slow(() => res.send('late')));
    app.use((_error, _req, res, _next) => res.status(500).send('error'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
  }
  const app = load('fastify')({ logger: false });
  await app.register(routemeter, options);
  app.get('/users/:id', async (req) => ({ id: req.params.id }));
  app.get('/boom', async () => {
    throw new Error('boom');
  });
  app.get('/slow', (_req, reply) => {
    slow(() => reply.send('late'));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, close: () => app.close() };
}

const { port, close } = await start();
const sent = { ok: 0, unmatched: 0, boom: 0, aborted: 0 };

function send(path, abortAfterMs) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end();
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
  });
}

/** One request of the mix: 60 % valid, 15 % random unmatched URLs, 10 % errors, 15 % aborted by the client. */
function one(i) {
  const roll = i % 20;
  if (roll < 12) {
    sent.ok += 1;
    return send(`/users/${i}`);
  }
  if (roll < 15) {
    sent.unmatched += 1;
    return send(`/x${Math.random().toString(36).slice(2)}/${i}?q=${i}`);
  }
  if (roll < 17) {
    sent.boom += 1;
    return send('/boom');
  }
  sent.aborted += 1;
  return send('/slow', 30);
}

async function load_(ms) {
  const deadline = Date.now() + ms;
  let i = 0;
  const worker = async () => {
    while (Date.now() < deadline) await one(i++);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const heapMb = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

await load_(Math.min(3000, seconds * 100)); // warm-up: JIT, pools, the label sets themselves
const warm = { ...sent };
const heapBefore = heapMb();
const rssBefore = process.memoryUsage().rss / 2 ** 20;
await load_(seconds * 1000);
await new Promise((resolve) => setTimeout(resolve, 500)); // the aborted /slow handlers finish
const heapAfter = heapMb();
const rssAfter = process.memoryUsage().rss / 2 ** 20;

const text = await registry.metrics();
const count = (route, status) => {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_requests_total{') && l.includes(`route="${route}"`) && l.includes(`status_code="${status}"`),
    );
  return line === undefined ? 0 : Number(line.split(' ').pop());
};
const routes = new Set([...text.matchAll(/^http_requests_total\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]));
const inFlight = [...text.matchAll(/^http_requests_in_flight\{[^}]*\} (\S+)/gm)].map((m) => Number(m[1]));
await close();

const checks = [
  ['valid requests counted exactly', count('/users/:id', 200), sent.ok],
  ['unmatched requests counted exactly', count('#unmatched', 404), sent.unmatched],
  ['errors counted exactly as 500', count('/boom', 500), sent.boom],
  ['aborted requests counted exactly as 499', count('/slow', 499), sent.aborted],
  ['route labels', [...routes].sort().join(' '), '#unmatched /boom /slow /users/:id'],
  ['requests in flight at the end', inFlight.reduce((a, b) => a + b, 0), 0],
];
let failed = false;
for (const [what, actual, expected] of checks) {
  const ok = actual === expected;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${actual}${ok ? '' : ` (expected ${expected})`}`);
}
const total = Object.values(sent).reduce((a, b) => a + b, 0);
const growth = heapAfter - heapBefore;
const heapOk = growth < 5;
failed ||= !heapOk;
console.log(
  `${heapOk ? 'ok  ' : 'FAIL'} heap after GC: ${heapBefore.toFixed(1)} -> ${heapAfter.toFixed(1)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(2)} MB over ${total - Object.values(warm).reduce((a, b) => a + b, 0)} requests; RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB)`,
);
console.log(`${adapter}: ${failed ? 'FAILED' : 'passed'}, ${total} requests`);
process.exit(failed ? 1 : 0);
