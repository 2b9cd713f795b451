import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterUnderTest, BehaviourOptions } from './behaviour.js';
import { eventually, type Reply, send, sendPipelinedAndClose } from './http.js';
import { countsOf, parseExposition, sampleValue, sumOf } from './metrics-text.js';

/**
 * What routemeter guarantees (root README, "What routemeter guarantees"), run against every adapter on the
 * standard app of the behaviour table: user callbacks that throw, reject or return garbage never reach the
 * framework, every request is recorded exactly once whatever the client does, and every scrape parses.
 */

/** The request as both frameworks give it to callbacks: enough to read its path and route parameters. */
interface AnyRequest {
  readonly url: string;
  readonly originalUrl?: string;
  readonly params: Record<string, string | undefined>;
}

const pathOf = (req: AnyRequest) => (req.originalUrl ?? req.url).split('?')[0] as string;

const OPENMETRICS = { accept: 'application/openmetrics-text; version=1.0.0' };

function logged() {
  const messages: string[] = [];
  return {
    messages,
    /** The callbacks named in the messages, once each, sorted. */
    callbacks: () => [...new Set(messages.map((m) => /^routemeter: `([^`]+)`/.exec(m)?.[1] ?? m))].sort(),
  };
}

export function describeAdapterGuarantees(adapter: AdapterUnderTest): void {
  const running: { close(): Promise<void> }[] = [];

  async function start(options: BehaviourOptions) {
    const app = await adapter.start({ defaultMetrics: false, ...options, registry: adapter.newRegistry() });
    running.push(app);
    return {
      port: app.port,
      send: (path: string, init?: Parameters<typeof send>[2]) => send(app.port, path, init),
      async sendAll(paths: readonly string[]): Promise<Reply[]> {
        const replies: Reply[] = [];
        for (const path of paths) replies.push(await send(app.port, path));
        return replies;
      },
      async scrape(headers: Record<string, string> = {}) {
        const reply = await send(app.port, '/metrics', { headers });
        expect(reply.status).toBe(200);
        return parseExposition(reply.body);
      },
      /** Closes the app before the test ends. */
      async stop() {
        running.splice(running.indexOf(app), 1);
        await app.close();
      },
    };
  }

  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  });

  describe(`what routemeter guarantees (${adapter.name})`, () => {
    it('keeps serving and records each request once when every callback throws, logging each once', async () => {
      const log = logged();
      const app = await start({
        normalizeRoute: () => {
          throw new Error('normalize down');
        },
        labels: { id: (req: AnyRequest) => (req.params.id as string).toUpperCase() },
        exclude: () => {
          throw new Error('exclude down');
        },
        exemplars: () => {
          throw new Error('exemplars down');
        },
        logger: {
          warn(message: string) {
            log.messages.push(message);
            throw new Error('logger down');
          },
        },
      });
      const replies = await app.sendAll(['/users/ab', '/nope', '/health', '/boom', '/users/cd', '/users/ab']);
      expect(replies.map((r) => r.status)).toEqual([200, 404, 200, 500, 200, 200]);
      expect(countsOf(await app.scrape(OPENMETRICS), 'id')).toEqual({
        'GET #unmatched 404 id=': 1,
        'GET /boom 500 id=': 1,
        'GET /health 200 id=': 1,
        'GET /users/:id 200 id=AB': 2,
        'GET /users/:id 200 id=CD': 1,
      });
      expect(log.callbacks()).toEqual(['exclude', 'exemplars', 'labels.id', 'normalizeRoute']);
      // Once each: later failures within the minute are counted, not logged.
      expect(log.messages).toHaveLength(4);
      expect(log.messages.find((m) => m.includes('`normalizeRoute`'))).toMatch(
        /threw \(normalize down\); the route template is used/,
      );
    });

    it('records each request once, with documented fallbacks, when callbacks return garbage or reject', async () => {
      const log = logged();
      const garbage: Record<string, () => unknown> = {
        '/users/1': () => ({}),
        '/users/2': () => undefined,
        '/users/3': () => Symbol('label'),
        '/users/4': () => Promise.reject(new Error('async label')),
        '/users/5': () => 7,
        '/users/6': () => null,
      };
      const exemplars: Record<string, () => unknown> = {
        '/users/1': () => null,
        '/users/2': () => ({ trace_id: 'a\u0000b' }),
        '/users/3': () => ({ 'trace-id': 'x' }),
        '/users/4': () => ({ trace_id: 'x'.repeat(200) }),
        '/users/5': () => Promise.resolve({ trace_id: 'x' }),
        '/users/6': () => ({ trace_id: 5 }),
      };
      const app = await start({
        normalizeRoute: (route: string) => (route === '/users/:id' ? 42 : Promise.reject(new Error('async route'))),
        labels: { kind: (req: AnyRequest) => (garbage[pathOf(req)] ?? (() => 'other'))() },
        exclude: () => Promise.reject(new Error('async exclude')),
        exemplars: (req: AnyRequest) => exemplars[pathOf(req)]?.(),
        logger: { warn: (message: string) => log.messages.push(message) },
      });
      const paths = Object.keys(garbage);
      const replies = await app.sendAll([...paths, '/teapot']);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 418]);
      const open = await send(app.port, '/metrics', { headers: OPENMETRICS });
      expect(open.status).toBe(200);
      expect(open.body).not.toContain('# {');
      expect(countsOf(parseExposition(open.body), 'kind')).toEqual({
        'GET /teapot 418 kind=other': 1,
        'GET /users/:id 200 kind=': 5,
        'GET /users/:id 200 kind=7': 1,
      });
      expect(log.callbacks()).toEqual(['exclude', 'exemplars', 'labels.kind', 'normalizeRoute']);
    });

    it('never crashes and records every request exactly once, whatever each callback does (property)', async () => {
      const behaviour = fc.constantFrom('value', 'garbage', 'throws', 'rejects');
      const paths = fc.array(fc.constantFrom('/users/1', '/nope', '/boom', '/teapot', '/orgs/a/repos/b'), {
        minLength: 1,
        maxLength: 6,
      });
      const act = (kind: string, value: () => unknown, garbage: unknown) => () => {
        if (kind === 'throws') throw new Error(`${kind} on purpose`);
        if (kind === 'rejects') return Promise.reject(new Error(`${kind} on purpose`));
        return kind === 'garbage' ? garbage : value();
      };
      await fc.assert(
        fc.asyncProperty(
          fc.record({ route: behaviour, label: behaviour, exclude: behaviour, exemplar: behaviour, log: behaviour }),
          paths,
          async (kinds, requests) => {
            const normalize = act(kinds.route, () => '/normalized', { not: 'a string' });
            const label = act(kinds.label, () => 'gold', [1, 2]);
            const exclude = act(kinds.exclude, () => false, 'yes');
            const exemplar = act(kinds.exemplar, () => ({ trace_id: 'abc' }), { trace_id: 'a\u0000b' });
            const log = act(kinds.log, () => undefined, 42);
            const app = await start({
              normalizeRoute: normalize,
              labels: { tier: label },
              // 'garbage' for exclude is truthy: every request is excluded, and none may be counted.
              exclude,
              exemplars: exemplar,
              logger: { warn: log },
            });
            try {
              const replies = await app.sendAll(requests);
              expect(replies.every((r) => r.status >= 200)).toBe(true);
              const metrics = await app.scrape(OPENMETRICS);
              const expected = kinds.exclude === 'garbage' ? 0 : requests.length;
              expect(sumOf(metrics, 'http_requests_total')).toBe(expected);
              expect(sumOf(metrics, 'http_request_duration_seconds_count')).toBe(expected);
            } finally {
              await app.stop();
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it('records pipelined requests queued behind a closed connection once each', async () => {
      const app = await start({ requestsInFlight: true });
      await sendPipelinedAndClose(app.port, ['/slow', '/users/1', '/teapot'], 100);
      await eventually(async () => {
        const metrics = await app.scrape();
        expect(sumOf(metrics, 'http_requests_total')).toBe(3);
        expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
      });
      // The handlers answer later, into the closed connection: nothing may be counted twice.
      await new Promise((resolve) => setTimeout(resolve, 450));
      const metrics = await app.scrape();
      // The queued two were answered by the app (into the queue) before the client left: their status was sent.
      expect(countsOf(metrics)).toEqual({ 'GET /slow 499': 1, 'GET /teapot 418': 1, 'GET /users/:id 200': 1 });
      expect(sumOf(metrics, 'http_requests_in_flight')).toBe(0);
      expect((await app.send('/users/2')).status).toBe(200);
    });

    it('excludes the same paths every time: RegExp flags ignored, trailing-slash twins included', async () => {
      const app = await start({ exclude: [/^\/health$/g, '/teapot'] });
      const replies = await app.sendAll(['/health', '/health', '/health', '/health/', '/teapot', '/teapot/']);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, expect.any(Number), 418, expect.any(Number)]);
      await app.send('/users/1');
      expect(countsOf(await app.scrape())).toEqual({ 'GET /users/:id 200': 1 });
    });

    it.each<[string, unknown, string | undefined]>([
      ['a valid one', { trace_id: 'ok-1' }, 'trace_id="ok-1"'],
      ['a NUL in a value', { trace_id: 'nul\u0000inside' }, undefined],
      ['a lone surrogate, made well-formed', { trace_id: '\uD800lone' }, 'trace_id="\uFFFDlone"'],
      ['quotes, backslashes and newlines, escaped', { t: 'q"b\\n\n' }, 't="q\\"b\\\\n\\n"'],
      ['more than 128 characters', { ['x'.repeat(60)]: 'y'.repeat(69) }, undefined],
      ['an invalid name', { 'trace-id': 'x' }, undefined],
      ['null', null, undefined],
    ])('serves exemplars Prometheus accepts only: %s', async (_case, exemplar, shown) => {
      const app = await start({ exemplars: () => exemplar, logger: { warn() {} } });
      await app.send('/teapot');
      const open = await send(app.port, '/metrics', { headers: OPENMETRICS });
      expect(open.status).toBe(200);
      const exemplars = open.body
        .split('\n')
        .filter((line) => line.startsWith('http_requests_total{'))
        .map((line) => / # \{(.*)\} 1 [\d.]+$/.exec(line)?.[1]);
      expect(exemplars).toEqual([shown]);
      expect(sampleValue(parseExposition(open.body), 'http_requests_total', teapot)).toBe(1);
    });
  });
}

const teapot = { method: 'GET', route: '/teapot', status_code: '418' };
