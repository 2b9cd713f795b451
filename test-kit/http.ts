import { request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Readable } from 'node:stream';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Listens on a free loopback port; resolves to the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * One HTTP request over loopback, sending the path byte for byte (no URL normalization). With `timeoutMs`,
 * a request without an answer by then fails rather than waiting forever.
 */
export function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Error('timed out')));
    req.end(options.body);
  });
}

/** Sends a request and destroys the socket once the server has begun handling it (after `afterMs`). */
export function sendAndAbort(port: number, path: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    // From the moment the request is on the wire: connecting is not the server's time.
    req.on('finish', () => setTimeout(() => req.destroy(), afterMs));
    req.end();
  });
}

/** Polls until the check passes or the time runs out; the last failure is thrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/**
 * Writes GET requests for `paths` back to back on one connection (HTTP pipelining), then destroys the
 * connection after `closeAfterMs`, whatever has been answered by then. Resolves once it is closed.
 */
export function sendPipelinedAndClose(port: number, paths: readonly string[], closeAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(''));
      setTimeout(() => socket.destroy(), closeAfterMs);
    });
    socket.on('data', () => {});
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** A body that yields `chunk 1\n` … `chunk <count>\n`, one every `intervalMs`: a streamed response. */
export function slowChunks(count: number, intervalMs: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      sent += 1;
      if (sent > count) this.push(null);
      else {
        const chunk = `chunk ${sent}\n`;
        setTimeout(() => this.push(chunk), intervalMs);
      }
    },
  });
}
