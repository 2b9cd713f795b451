import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../../../test-kit/http.js';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

let served: Served;
let prometheus: RunningPrometheus;

/** What hostile exemplar getters return: each case is one request to /hostile/<index>. */
const hostile: unknown[] = [
  { trace_id: 'nul\u0000inside' },
  { trace_id: '\uD800' },
  { trace_id: 'quote"back\\slash\nnewline' },
  { trace_id: 'x'.repeat(200) },
  { 'bad name': 'x' },
  { trace_id: 7 },
  null,
  42,
  [],
  ...fc.sample(
    fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 40 }), { maxKeys: 3 }),
    { numRuns: 60, seed: 20261203 },
  ),
];

beforeAll(async () => {
  served = await serve(
    (app) => {
      app.get('/orders/:id', (_req, res) => {
        res.send('order');
      });
      app.get('/hostile/:case', (_req, res) => {
        res.send('hostile');
      });
    },
    {
      exemplars: (req) => {
        if (req.params.case !== undefined) return hostile[Number(req.params.case)] as Record<string, string>;
        return req.get('x-trace-id') ? { trace_id: String(req.get('x-trace-id')) } : undefined;
      },
      logger: { warn() {} },
    },
  );
  prometheus = await startPrometheus([{ job: 'express', port: served.port }], ['--enable-feature=exemplar-storage']);
});

afterAll(async () => {
  await prometheus?.stop();
  await served?.close();
});

it('a real Prometheus with exemplar storage returns the trace ids of recorded requests', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  await served.send('/orders/1', { headers: { 'x-trace-id': traceId } });
  await prometheus.waitForScrapes(Date.now() + 100);
  const exemplars = await eventually(() => exemplarsOf('http_request_duration_seconds_bucket{route="/orders/:id"}'));
  expect(new Set(exemplars.map((labels) => labels.trace_id))).toEqual(new Set([traceId]));
});

it('a real Prometheus keeps scraping whatever the exemplar getter returns', async () => {
  for (let i = 0; i < hostile.length; i++) expect((await served.send(`/hostile/${i}`)).status).toBe(200);
  // Throws unless the target is up in scrapes that began after every hostile exemplar was recorded.
  await prometheus.waitForScrapes(Date.now() + 100);
  const result = await prometheus.query('sum(http_requests_total{route="/hostile/:case"})');
  expect(Number(result[0]?.value[1])).toBe(hostile.length);
  // The getter really ran for these requests: the valid ones among the cases were stored.
  expect((await eventually(() => exemplarsOf('http_requests_total{route="/hostile/:case"}'))).length).toBeGreaterThan(
    0,
  );
});

/** The exemplars Prometheus stored for a series selector in the last minute; throws while there are none. */
async function exemplarsOf(selector: string): Promise<Record<string, string>[]> {
  const now = Date.now() / 1000;
  const query = encodeURIComponent(selector);
  const res = await fetch(`${prometheus.url}/api/v1/query_exemplars?query=${query}&start=${now - 60}&end=${now + 60}`);
  const body = (await res.json()) as { data: { exemplars: { labels: Record<string, string> }[] }[] };
  const found = body.data.flatMap((series) => series.exemplars.map((e) => e.labels));
  if (found.length === 0) throw new Error(`no exemplars yet for ${selector}`);
  return found;
}
