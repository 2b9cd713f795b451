import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What recordLabelSets needs of a core meter (`createRecorder(...)`). */
interface Meter {
  method(method: string): { finish(route: string, status: number, seconds: number, req: object, res: object): void };
}

const STATUSES = [200, 201, 202, 203, 206, 400, 401, 402, 403, 404, 405, 406, 409, 410, 422, 429, 500, 501, 502, 503];

/** Records `count` label sets (20 statuses per route, within the default maxRoutes): ~1.7 KB of text each. */
export function recordLabelSets(meter: Meter, count: number): void {
  const get = meter.method('GET');
  for (let i = 0; i < count; i++)
    get.finish(`/r${Math.floor(i / STATUSES.length)}`, STATUSES[i % STATUSES.length] as number, 0.01, {}, {});
}

/**
 * A prom-client gauge whose collect() counts its calls (and the calls that finished) and takes `ms`
 * (a slow collector, or a big registry). Pass prom-client's `Gauge`: test-kit has no dependencies.
 */
export function countingCollector<Registry>(
  Gauge: new (config: {
    name: string;
    help: string;
    registers: Registry[];
    collect(this: { set(value: number): void }): Promise<void>;
  }) => unknown,
  registry: Registry,
  ms = 0,
): { readonly calls: number; readonly finished: number } {
  const counter = { calls: 0, finished: 0 };
  new Gauge({
    name: 'collect_calls',
    help: 'Calls of collect().',
    registers: [registry],
    async collect() {
      counter.calls += 1;
      await new Promise((resolve) => setTimeout(resolve, ms));
      this.set(counter.calls);
      counter.finished += 1;
    },
  });
  return counter;
}

/** A client that sends `GET path` and never reads the answer. Destroy it when done. */
export function stalledScraper(port: number, path = '/metrics'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** JavaScript heap and external memory (Buffers) in use after full garbage collections. */
export function heldBytes(): number {
  gc();
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** {@link heldBytes} once it stops changing (two readings 100 ms apart within 256 KiB), for 5 s at most. */
export async function settledHeldBytes(): Promise<number> {
  const deadline = Date.now() + 5000;
  let last = heldBytes();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = heldBytes();
    if (Math.abs(now - last) < 256 * 1024 || Date.now() > deadline) return now;
    last = now;
  }
}

/** GETs a path on a connection of its own and resolves to the status and the body's byte length. */
export function bodyLength(port: number, path = '/metrics'): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface KeptAliveReply {
  readonly status: number;
  readonly body: string;
  /** True when the request went over the socket of an earlier one. */
  readonly reused: boolean;
}

/**
 * A client whose requests all go over one kept-alive socket, one at a time: anything a server writes
 * between two answers (a late scrape) would corrupt the second one.
 */
export function keptAliveClient(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get(path: string, headers: Record<string, string> = {}): Promise<KeptAliveReply> {
      return new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

/** Collects unhandled rejections and uncaught exceptions until `stop()`. */
export function watchProcessErrors() {
  const errors: unknown[] = [];
  const collect = (error: unknown) => errors.push(error);
  process.on('unhandledRejection', collect);
  process.on('uncaughtException', collect);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', collect);
      process.off('uncaughtException', collect);
    },
  };
}
