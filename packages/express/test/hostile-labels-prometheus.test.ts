import { CLIENT_CLOSED_STATUS } from '@routemeter/express';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, sendAndAbort, sendPipelinedAndClose } from '../../../test-kit/http.js';
import { promtoolCheckMetrics, type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

const THROWS = Symbol('throws');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** What a `labels.tenant` getter returns for /t/<index>, and the label value Prometheus must store for it. */
const cases: [returned: unknown, stored: string][] = [
  ['plain', 'plain'],
  ['quote"inside', 'quote"inside'],
  ['back\\slash\\', 'back\\slash\\'],
  ['new\nline', 'new\nline'],
  ['"} 1\nhttp_requests_total{route="/forged"} 99', '"} 1\nhttp_requests_total{route="/forged"} 99'],
  [',route="/forged",x="', ',route="/forged",x="'],
  ['tab\tand\rreturn', 'tab\tand\rreturn'],
  ['nul\u0000inside', 'nul\u0000inside'],
  ['é😀中', 'é😀中'],
  ['\uD800lone', '\uFFFDlone'],
  ['x'.repeat(1000), 'x'.repeat(1000)],
  [42, '42'],
  [true, 'true'],
  [THROWS, ''],
  [{ toString: () => 'object' }, ''],
  [null, ''],
  [undefined, ''],
  ...fc
    .sample(fc.string({ unit: 'binary', maxLength: 16 }), { numRuns: 20, seed: 20261204 })
    .map((text): [string, string] => [text, text.replace(LONE_SURROGATE, '\uFFFD')]),
];

let served: Served;
/** Prometheus as it is by default (it asks for OpenMetrics) and with native histograms (it asks for protobuf). */
let prometheus: RunningPrometheus[] = [];

beforeAll(async () => {
  served = await serve(
    (app) => {
      app.get('/t/:case', (_req, res) => {
        res.send('ok');
      });
      app.get('/slow/:case', (_req, res) => {
        setTimeout(() => res.send('late'), 300).unref();
      });
    },
    {
      labels: {
        tenant: (req) => {
          const returned = cases[Number(req.params.case)]?.[0];
          if (returned === THROWS) throw new Error('hostile getter');
          return returned as string;
        },
      },
      logger: { warn() {} },
    },
  );
  prometheus = await Promise.all([
    startPrometheus([{ job: 'express', port: served.port }]),
    startPrometheus([{ job: 'express', port: served.port }], ['--enable-feature=native-histograms']),
  ]);
});

afterAll(async () => {
  await Promise.all(prometheus.map((p) => p.stop()));
  await served?.close();
});

it('hostile, throwing and garbage label values: each request counted once, every format a real Prometheus accepts', async () => {
  const paths = cases.map((_, i) => `/t/${i}`);
  for (const path of paths) expect((await served.send(path)).status).toBe(200);
  await sendPipelinedAndClose(served.port, paths, 500);
  // Aborted mid-handler: counted once each, as the client-closed status.
  await Promise.all([0, 1, 3, 9].map((i) => sendAndAbort(served.port, `/slow/${i}`, 50)));

  const expected = new Map<string, number>();
  for (const [, stored] of cases) expected.set(stored, (expected.get(stored) ?? 0) + 2);
  const expectedAborted = new Map([0, 1, 3, 9].map((i) => [cases[i]?.[1] as string, 1]));

  const text = await served.send('/metrics');
  expect(await promtoolCheckMetrics(text.body)).toBe('');

  for (const p of prometheus) {
    await p.waitForScrapes(Date.now() + 100);
    await eventually(async () => {
      expect(await countsByTenant(p, 'http_requests_total{route="/t/:case"}')).toEqual(expected);
      expect(await countsByTenant(p, 'http_request_duration_seconds_count{route="/t/:case"}')).toEqual(expected);
      expect(
        await countsByTenant(p, `http_requests_total{route="/slow/:case",status_code="${CLIENT_CLOSED_STATUS}"}`),
      ).toEqual(expectedAborted);
    });
  }
  // The app kept serving.
  expect((await served.send('/t/0')).status).toBe(200);
});

/** The samples of a selector, by their `tenant` label ('' where Prometheus has none). */
async function countsByTenant(p: RunningPrometheus, selector: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { metric, value } of await p.query(selector)) {
    const tenant = metric.tenant ?? '';
    counts.set(tenant, (counts.get(tenant) ?? 0) + Number(value[1]));
  }
  return counts;
}
