// Sending a fixed list of requests exactly once, in order, and plain HTTP GETs.
import http from 'node:http';
import net from 'node:net';
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

/** GET a path; resolves with status, headers, body and the milliseconds from request to the body's last byte. */
export function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body, ms: performance.now() - start });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

export { random } from './stats.mjs';

const STATUS_LINE = Buffer.from('HTTP/1.1 ');
const CARRY = STATUS_LINE.length - 1;

/**
 * Load for the overhead bench: `connections` sockets, each writing `pipelining` requests at once and the next
 * batch when all of them are answered, cycling through `paths`, for `seconds`; then it waits for every answer.
 * Responses are counted by their status lines, with no HTTP parser: this side costs the shared machine little
 * and starts at once, so rounds can be short (autocannon spends ~0.5 s building its requests first).
 * `ready` runs once every socket is connected, before the first byte is sent.
 * @returns {Promise<{ responses: number, errors: number, wallMs: number }>}
 */
export async function pipelinedLoad(port, { paths, seconds, connections, pipelining, ready = async () => {} }) {
  const batches = [];
  for (let i = 0; i < paths.length; i += pipelining) {
    let text = '';
    for (let j = 0; j < pipelining; j++)
      text += `GET ${paths[(i + j) % paths.length]} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`;
    batches.push(Buffer.from(text));
  }
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.setNoDelay(true);
          socket.once('error', reject);
        }),
    ),
  );
  await ready();
  let responses = 0;
  let errors = 0;
  let stopped = false;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const runs = sockets.map(
    (socket, c) =>
      new Promise((resolve, reject) => {
        let next = (c * 7) % batches.length;
        let pending = 0;
        let carry = Buffer.alloc(0);
        const send = () => {
          if (stopped || performance.now() >= deadline) {
            stopped = true;
            socket.end();
            resolve();
            return;
          }
          pending = pipelining;
          socket.write(batches[next]);
          next = (next + 1) % batches.length;
        };
        socket.on('data', (chunk) => {
          const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
          for (let at = data.indexOf(STATUS_LINE); at !== -1; at = data.indexOf(STATUS_LINE, at + CARRY)) {
            if (data[at + STATUS_LINE.length] !== 0x32) errors++; // not 2xx
            responses++;
            pending--;
          }
          carry = data.subarray(data.length - CARRY);
          if (pending === 0) send();
        });
        socket.on('error', reject);
        socket.on('close', () => (pending > 0 ? reject(new Error('connection closed mid-batch')) : resolve()));
        send();
      }),
  );
  await Promise.all(runs);
  return { responses, errors, wallMs: performance.now() - start };
}
