// Sending a fixed list of requests exactly once, in order, and plain HTTP GETs.
import http from 'node:http';
import autocannon from 'autocannon';

/**
 * Sends every request of the list once, in order, over one pipelined connection (with several
 * connections autocannon would start each at the list's first entry). autocannon stops at `amount`
 * responses and drops what is still in flight, so the list ends with copies of `filler`, a request
 * whose label set the server has already seen.
 */
export function sendAll(port, requests, { pipelining = 8, filler = requests[0] } = {}) {
  const all = [...requests, ...Array.from({ length: 3 * pipelining }, () => ({ ...filler }))];
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: 1,
        pipelining,
        amount: all.length,
        requests: all,
        timeout: 30,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** GET a path; resolves with status, body and the milliseconds from request to the body's last byte. */
export function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, body, ms: performance.now() - start });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** A seeded PRNG (mulberry32), so every run sends the same "random" traffic. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
