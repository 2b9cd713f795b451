import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type Reply, send, sendAndAbort } from './http.js';
import { countsOf, type Exposition, labelValues, parseExposition, sampleValue, sumOf } from './metrics-text.js';
import { promtoolCheckMetrics } from './prometheus.js';

/**
 * The routes every adapter's test app must have, written the framework's own way:
 *
 * | route                         | how it is built                                        | answers                 |
 * |-------------------------------|--------------------------------------------------------|-------------------------|
 * | GET  /users/:id               | on the app                                             | 200 `user <id>`         |
 * | POST /users                   | on the app                                             | 201 `created`           |
 * | GET  /orgs/:org/repos         | `/` of a router / plugin mounted at `/orgs/:org/repos` | 200 `repos`             |
 * | GET  /orgs/:org/repos/:repo   | `/:repo` of that router / plugin                       | 200 `repo <repo>`       |
 * | GET  /boom                    | throws synchronously                                   | 500                     |
 * | GET  /async-boom              | fails asynchronously (rejected promise)                | 500                     |
 * | GET  /teapot                  | on the app                                             | 418                     |
 * | GET  /health                  | on the app                                             | 200 `ok`                |
 * | GET  /slow                    | answers after 400 ms                                   | 200 `slow`              |
 * | GET  /stream                  | streams `chunk 1\n` … `chunk 4\n`, 60 ms apart         | 200                     |
 *
 * The app records with the given options on top of `{ defaultMetrics: false }` and serves `/metrics`.
 */
export interface BehaviourApp {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * routemeter options as the table passes them: plain data and functions of no framework type.
 * (test-kit resolves no packages, so prom-client's Registry comes from the adapter.)
 */
export type BehaviourOptions = Readonly<Record<string, unknown>> & { readonly registry?: object };

export interface AdapterUnderTest {
  /** Shown in test names: `express5`, `fastify4`, … */
  readonly name: string;
  /** A new, empty prom-client Registry, from the adapter's own prom-client. */
  newRegistry(): object;
  /** A prom-client Gauge on `registry`, from the adapter's own prom-client: the app's own metric. */
  newGauge(config: {
    name: string;
    help: string;
    registers: object[];
    collect(this: { set(value: number): void }): void;
  }): void;
  /** Starts the standard app on 127.0.0.1 with routemeter and these options (registry always given). */
  start(options: BehaviourOptions & { readonly registry: object }): Promise<BehaviourApp>;
}

interface Running {
  readonly port: number;
  send(path: string, options?: Parameters<typeof send>[2]): Promise<Reply>;
  scrape(path?: string): Promise<Exposition>;
  close(): Promise<void>;
}

const labels = (route: string, status: string, method = 'GET') => ({ method, route, status_code: status });

/**
 * The cross-adapter behaviour table: the same traffic must give the same label values and counts
 * on every adapter. Each adapter's test file calls this once with its own {@link AdapterUnderTest}.
 */
export function describeAdapterBehaviour(adapter: AdapterUnderTest): void {
  let running: Running[] = [];

  async function start(options: BehaviourOptions = {}): Promise<Running> {
    const registry = options.registry ?? adapter.newRegistry();
    const app = await adapter.start({ defaultMetrics: false, ...options, registry });
    const self: Running = {
      port: app.port,
      send: (path, requestOptions) => send(app.port, path, requestOptions),
      async scrape(path = '/metrics') {
        const reply = await send(app.port, path);
        if (reply.status !== 200) throw new Error(`scrape answered ${reply.status}: ${reply.body}`);
        return parseExposition(reply.body);
      },
      close: () => app.close(),
    };
    running.push(self);
    return self;
  }

  async function sendAll(app: Running, requests: readonly (string | [method: string, path: string])[]) {
    const replies: Reply[] = [];
    for (const request of requests) {
      const [method, path] = typeof request === 'string' ? ['GET', request] : request;
      replies.push(await app.send(path, { method }));
    }
    return replies;
  }

  afterEach(async () => {
    await Promise.all(running.map((app) => app.close()));
    running = [];
  });

  describe(`shared behaviour (${adapter.name})`, () => {
    it('labels routes by their template, prefixes and nested mounts included', async () => {
      const app = await start();
      const replies = await sendAll(app, [
        '/users/1',
        '/users/2?tab=repos',
        ['POST', '/users'],
        '/orgs/acme/repos',
        '/orgs/acme/repos/',
        '/orgs/acme/repos/web',
        '/orgs/beta/repos/api?x=1',
        '/teapot',
        '/health',
      ]);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 201, 200, 200, 200, 200, 418, 200]);
      expect(replies[0]?.body).toBe('user 1');
      expect(replies[5]?.body).toBe('repo web');
      expect(countsOf(await app.scrape())).toEqual({
        'GET /health 200': 1,
        'GET /orgs/:org/repos 200': 2,
        'GET /orgs/:org/repos/:repo 200': 2,
        'GET /teapot 418': 1,
        'GET /users/:id 200': 2,
        'POST /users 201': 1,
      });
    });

    it('counts 404s, HEAD of unknown paths, unknown and unrouted methods under the one unmatched label', async () => {
      const app = await start();
      const replies = await sendAll(app, [
        '/nope',
        '/users',
        '/users/1/extra',
        ['HEAD', '/nope'],
        ['PROPFIND', '/users/1'],
        ['DELETE', '/users/1'],
      ]);
      expect(replies.map((r) => r.status)).toEqual([404, 404, 404, 404, 404, 404]);
      expect(countsOf(await app.scrape())).toEqual({
        '_OTHER #unmatched 404': 1,
        'DELETE #unmatched 404': 1,
        'GET #unmatched 404': 3,
        'HEAD #unmatched 404': 1,
      });
    });

    it('labels HEAD requests to a GET route with the route and method HEAD', async () => {
      const app = await start();
      const reply = await app.send('/users/7', { method: 'HEAD' });
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('');
      expect(countsOf(await app.scrape())).toEqual({ 'HEAD /users/:id 200': 1 });
    });

    it('counts a malformed URL under the unmatched label, with the status sent', async () => {
      const app = await start();
      const [bad] = await sendAll(app, ['/%E0%A4%A']);
      const status = bad?.status as number;
      expect([400, 404]).toContain(status);
      await app.send('/users/1');
      expect(countsOf(await app.scrape())).toEqual({ [`GET #unmatched ${status}`]: 1, 'GET /users/:id 200': 1 });
    });

    it('never crashes and creates no route label outside the route table, whatever the URL', async () => {
      const app = await start();
      const hex = fc
        .integer({ min: 0, max: 255 })
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`);
      const segment = fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{1,12}$/),
        fc.array(hex, { minLength: 1, maxLength: 6 }).map((bytes) => bytes.join('')),
        fc.constantFrom('%', '%G1', '%E0%A4%A', '%C0%AF', '..', '%2F', '%00', 'users', 'orgs', 'repos'),
      );
      const url = fc
        .tuple(fc.array(segment, { maxLength: 8 }), fc.option(fc.stringMatching(/^[a-z0-9=&%]{0,20}$/)))
        .map(([parts, query]) => `/${parts.join('/')}${query === null ? '' : `?${query}`}`);
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(url, async (path) => {
          const reply = await app.send(path);
          sent += 1;
          expect(reply.status).toBeGreaterThanOrEqual(200);
        }),
        { numRuns: 200 },
      );
      await app.send(`/users/${'a'.repeat(8000)}`);
      sent += 1;
      const metrics = await app.scrape();
      const table = ['#unmatched', '/users/:id', '/users', '/orgs/:org/repos', '/orgs/:org/repos/:repo'];
      expect(labelValues(metrics, 'http_requests_total', 'route').filter((route) => !table.includes(route))).toEqual(
        [],
      );
      expect(sumOf(metrics, 'http_requests_total')).toBe(sent);
    });

    it('counts thrown and asynchronous errors once each, as 500', async () => {
      const app = await start();
      const replies = await sendAll(app, ['/boom', '/async-boom', '/boom']);
      expect(replies.map((r) => r.status)).toEqual([500, 500, 500]);
      const metrics = await app.scrape();
      expect(countsOf(metrics)).toEqual({ 'GET /async-boom 500': 1, 'GET /boom 500': 2 });
      expect(sampleValue(metrics, 'http_request_duration_seconds_count', labels('/boom', '500'))).toBe(2);
    });

    it('counts a request whose client leaves before the response once, as 499, and keeps serving', async () => {
      const app = await start({ requestsInFlight: true });
      await sendAndAbort(app.port, '/slow', 100);
      await eventually(async () => {
        expect(sampleValue(await app.scrape(), 'http_requests_total', labels('/slow', '499'))).toBe(1);
      });
      // The handler answers 300 ms later, into the closed connection: that must not count it again.
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect((await app.send('/users/5')).status).toBe(200);
      const metrics = await app.scrape();
      expect(countsOf(metrics)).toEqual({ 'GET /slow 499': 1, 'GET /users/:id 200': 1 });
      const seconds = sampleValue(metrics, 'http_request_duration_seconds_sum', labels('/slow', '499')) as number;
      expect(seconds).toBeGreaterThanOrEqual(0.08);
      expect(seconds).toBeLessThan(0.4);
      expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
    });

    it('counts a client that leaves mid-stream once, with the status already sent', async () => {
      const app = await start({ requestsInFlight: true });
      await sendAndAbort(app.port, '/stream', 150);
      await eventually(async () => {
        expect(sampleValue(await app.scrape(), 'http_requests_total', labels('/stream', '200'))).toBe(1);
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const metrics = await app.scrape();
      expect(countsOf(metrics)).toEqual({ 'GET /stream 200': 1 });
      expect(
        sampleValue(metrics, 'http_request_duration_seconds_bucket', { ...labels('/stream', '200'), le: '0.1' }),
      ).toBe(0);
      expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
    });

    it('times a streamed response to its last byte', async () => {
      const app = await start();
      const reply = await app.send('/stream');
      expect(reply.body).toBe('chunk 1\nchunk 2\nchunk 3\nchunk 4\n');
      const metrics = await app.scrape();
      const stream = labels('/stream', '200');
      expect(sampleValue(metrics, 'http_request_duration_seconds_sum', stream)).toBeGreaterThanOrEqual(0.23);
      expect(sampleValue(metrics, 'http_request_duration_seconds_bucket', { ...stream, le: '0.1' })).toBe(0);
      expect(sampleValue(metrics, 'http_request_duration_seconds_bucket', { ...stream, le: '0.5' })).toBe(1);
    });

    it('serves /metrics (GET and HEAD) without counting it, unless recordScrapes', async () => {
      const app = await start();
      await app.send('/users/1');
      const get = await app.send('/metrics');
      const head = await app.send('/metrics', { method: 'HEAD' });
      expect(get.status).toBe(200);
      expect(get.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(get.headers['cache-control']).toBe('no-store');
      expect(Number(get.headers['content-length'])).toBe(Buffer.byteLength(get.body));
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(countsOf(await app.scrape())).toEqual({ 'GET /users/:id 200': 1 });

      const recording = await start({ recordScrapes: true });
      await recording.send('/metrics');
      await recording.send('/metrics', { method: 'HEAD' });
      expect(countsOf(await recording.scrape())).toEqual({ 'GET /metrics 200': 1, 'HEAD /metrics 200': 1 });
    });

    it('serves on metricsPath, and counts /metrics like any unknown path when it moved', async () => {
      const app = await start({ metricsPath: '/internal/metrics' });
      expect((await app.send('/metrics')).status).toBe(404);
      expect(countsOf(await app.scrape('/internal/metrics'))).toEqual({ 'GET #unmatched 404': 1 });
    });

    it('answers 500 with a short message when collecting throws, warns once, and keeps serving', async () => {
      const registry = adapter.newRegistry();
      let failing = true;
      adapter.newGauge({
        name: 'flaky',
        help: 'Throws while collecting.',
        registers: [registry],
        collect() {
          if (failing) throw new Error('collector broke');
          this.set(1);
        },
      });
      const warnings: string[] = [];
      const app = await start({ registry, logger: { warn: (message: string) => warnings.push(message) } });
      const failed = await app.send('/metrics');
      expect([failed.status, failed.body]).toEqual([500, 'routemeter: collecting metrics failed\n']);
      expect(warnings).toEqual(['routemeter: collecting metrics failed: collector broke']);
      expect((await app.send('/users/1')).status).toBe(200);
      failing = false;
      const metrics = await app.scrape();
      expect(sampleValue(metrics, 'flaky')).toBe(1);
      expect(countsOf(metrics)).toEqual({ 'GET /users/:id 200': 1 });
    });

    it('serves /metrics only to an authorised scraper, with a 401 challenge otherwise', async () => {
      const app = await start({ auth: { bearer: 'scrape-token' } });
      const denied = await app.send('/metrics');
      expect([denied.status, denied.body, denied.headers['www-authenticate']]).toEqual([
        401,
        'Unauthorized\n',
        'Bearer realm="metrics"',
      ]);
      const allowed = await app.send('/metrics', { headers: { authorization: 'Bearer scrape-token' } });
      expect(allowed.status).toBe(200);

      const byPredicate = await start({
        auth: (req: { headers: Record<string, unknown> }) => req.headers['x-internal'] === 'yes',
      });
      expect((await byPredicate.send('/metrics')).status).toBe(401);
      expect((await byPredicate.send('/metrics', { headers: { 'x-internal': 'yes' } })).status).toBe(200);
    });

    it('adds exemplars from the request to OpenMetrics output only', async () => {
      const app = await start({
        exemplars: (req: { headers: Record<string, unknown> }) =>
          typeof req.headers['x-trace-id'] === 'string' ? { trace_id: req.headers['x-trace-id'] } : undefined,
      });
      await app.send('/users/1', { headers: { 'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736' } });
      const open = await app.send('/metrics', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
      const withExemplar = open.body.split('\n').filter((line) => line.includes('# {trace_id='));
      expect(withExemplar.length).toBeGreaterThan(0);
      expect(withExemplar.every((line) => line.includes('route="/users/:id"'))).toBe(true);
      expect((await app.send('/metrics')).body).not.toContain('trace_id');
    });

    it('leaves excluded paths out, by exact path and by RegExp', async () => {
      const app = await start({ exclude: ['/health', /^\/orgs\//] });
      await sendAll(app, ['/health', '/health?probe=1', '/orgs/a/repos/b', '/orgs/a/repos', '/users/1']);
      expect(countsOf(await app.scrape())).toEqual({ 'GET /users/:id 200': 1 });
    });

    it('labels status codes by class with statusCode: class', async () => {
      const app = await start({ statusCode: 'class' });
      await sendAll(app, ['/users/1', '/teapot', '/boom', '/nope']);
      expect(countsOf(await app.scrape())).toEqual({
        'GET #unmatched 4xx': 1,
        'GET /boom 5xx': 1,
        'GET /teapot 4xx': 1,
        'GET /users/:id 2xx': 1,
      });
    });

    it('rewrites templates with normalizeRoute and adds custom labels', async () => {
      const app = await start({
        normalizeRoute: (route: string) => route.replace(':org', ':owner'),
        labels: { tier: () => 'gold' },
      });
      await sendAll(app, ['/orgs/a/repos/b', '/nope']);
      const metrics = await app.scrape();
      expect(labelValues(metrics, 'http_requests_total', 'route')).toEqual(['#unmatched', '/orgs/:owner/repos/:repo']);
      expect(labelValues(metrics, 'http_requests_total', 'tier')).toEqual(['gold']);
      expect(
        sampleValue(metrics, 'http_requests_total', { ...labels('/orgs/:owner/repos/:repo', '200'), tier: 'gold' }),
      ).toBe(1);
    });

    it('shares metrics between two apps on one registry', async () => {
      const registry = adapter.newRegistry();
      const first = await start({ registry });
      const second = await start({ registry });
      await first.send('/users/1');
      await second.send('/users/2');
      await second.send('/nope');
      expect(countsOf(await first.scrape())).toEqual({ 'GET #unmatched 404': 1, 'GET /users/:id 200': 2 });
    });

    it('records sizes and uses OpenTelemetry names with naming: otel', async () => {
      const app = await start({ naming: 'otel', responseSize: true });
      await sendAll(app, ['/users/1', '/users/22']);
      const metrics = await app.scrape();
      const otel = { http_request_method: 'GET', http_route: '/users/:id', http_response_status_code: '200' };
      expect(sampleValue(metrics, 'http_server_request_duration_seconds_count', otel)).toBe(2);
      // 'user 1' and 'user 22': 6 + 7 bytes.
      expect(sampleValue(metrics, 'http_server_response_body_size_bytes_sum', otel)).toBe(13);
      expect(sumOf(metrics, 'http_requests_total')).toBe(0);
    });

    it('is clean for promtool check metrics', async () => {
      const app = await start({ requestsInFlight: true, requestSize: true, responseSize: true });
      await sendAll(app, ['/users/1', '/nope', '/boom', ['POST', '/users']]);
      expect(await promtoolCheckMetrics((await app.send('/metrics')).body)).toBe('');
    });
  });
}
