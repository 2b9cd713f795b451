import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { onResponseClosed } from '../src/response-closed.js';

/** What the handler of one pipelined request does: read its body or not, answer after a delay or never. */
interface Plan {
  readonly body: boolean;
  readonly answerAfterMs: number | 'never';
  /** Destroy the response instead of ending it. */
  readonly destroy?: boolean;
}

interface Connection {
  /** Calls of the callback per request the server saw, by request index. */
  readonly calls: Map<number, number>;
  readonly closed: Promise<void>;
}

let server: Server | undefined;
afterEach(stopServer);

async function stopServer(): Promise<void> {
  const stopping = server;
  server = undefined;
  if (stopping === undefined) return;
  stopping.closeAllConnections();
  await new Promise((resolve) => stopping.close(resolve));
}

/**
 * Sends `plans` pipelined on one connection, then after `leaveAfterMs` destroys it, or half-closes it
 * (Node's server then destroys the queued requests with the socket still open).
 */
async function pipeline(plans: readonly Plan[], leaveAfterMs: number, leave: 'destroy' | 'end'): Promise<Connection> {
  const calls = new Map<number, number>();
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const index = Number(req.url?.slice(1));
    const plan = plans[index] as Plan;
    calls.set(index, 0);
    onResponseClosed(req, res, () => calls.set(index, (calls.get(index) ?? 0) + 1));
    if (plan.body) req.resume();
    if (plan.answerAfterMs !== 'never') {
      setTimeout(() => (plan.destroy ? res.destroy() : res.end(`answer ${index}`)), plan.answerAfterMs);
    }
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  const requests = plans.map((plan, index) =>
    plan.body
      ? `POST /${index} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`
      : `GET /${index} HTTP/1.1\r\nHost: x\r\n\r\n`,
  );
  socket.write(requests.join(''));
  socket.on('data', () => {});
  socket.on('error', () => {});
  setTimeout(() => (leave === 'destroy' ? socket.destroy() : socket.end()), leaveAfterMs);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { calls, closed };
}

/** Waits until every request the server saw has been called back, then a while longer for any second call. */
async function settled({ calls, closed }: Connection, quietMs: number): Promise<Map<number, number>> {
  await closed;
  const deadline = Date.now() + 2000;
  while ([...calls.values()].some((n) => n === 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, quietMs));
  return calls;
}

const once = (n: number) => new Map(Array.from({ length: n }, (_, i) => [i, 1]));

describe('onResponseClosed', () => {
  it('calls back once for answered pipelined responses', async () => {
    const connection = await pipeline(
      [
        { body: false, answerAfterMs: 5 },
        { body: true, answerAfterMs: 0 },
        { body: false, answerAfterMs: 0 },
      ],
      60,
      'destroy',
    );
    expect(await settled(connection, 30)).toEqual(once(3));
  });

  it('calls back once for queued requests lost with their connection, even if answered later', async () => {
    const connection = await pipeline(
      [
        { body: false, answerAfterMs: 80 },
        { body: false, answerAfterMs: 100 },
        { body: false, answerAfterMs: 'never' },
      ],
      20,
      'destroy',
    );
    const calls = await settled(connection, 150);
    expect(calls).toEqual(once(3));
  });

  it('calls back once for a queued request whose body was read before the connection was lost', async () => {
    // Reading the body to its end closes the request while its response still waits in the queue.
    const connection = await pipeline(
      [
        { body: false, answerAfterMs: 60 },
        { body: true, answerAfterMs: 'never' },
        { body: true, answerAfterMs: 80 },
      ],
      20,
      'destroy',
    );
    expect(await settled(connection, 120)).toEqual(once(3));
  });

  it('calls back once for queued requests when the client half-closes', async () => {
    const connection = await pipeline(
      [
        { body: false, answerAfterMs: 40 },
        { body: true, answerAfterMs: 0 },
        { body: false, answerAfterMs: 'never' },
      ],
      10,
      'end',
    );
    server?.closeAllConnections();
    expect(await settled(connection, 80)).toEqual(once(3));
  });

  it('calls back exactly once per request, whatever the pipeline and however the client leaves', async () => {
    const plan = fc.record({
      body: fc.boolean(),
      answerAfterMs: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant('never' as const)),
      destroy: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(plan, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom('destroy' as const, 'end' as const),
        async (plans, leaveAfterMs, leave) => {
          const connection = await pipeline(plans, leaveAfterMs, leave);
          // A half-closed connection whose responses never come stays open: the server closes it.
          setTimeout(() => server?.closeAllConnections(), leaveAfterMs + 50);
          const calls = await settled(connection, 50);
          await stopServer();
          for (const [index, n] of calls) expect(n, `request ${index}`).toBe(1);
        },
      ),
      { numRuns: 40 },
    );
  });
});
