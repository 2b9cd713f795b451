import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../../../test-kit/http.js';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

let served: Served;
let prometheus: RunningPrometheus;

beforeAll(async () => {
  served = await serve(
    (app) => {
      app.get('/orders/:id', (_req, res) => {
        res.send('order');
      });
    },
    { exemplars: (req) => (req.get('x-trace-id') ? { trace_id: String(req.get('x-trace-id')) } : undefined) },
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
  const now = Date.now() / 1000;
  const exemplars = await eventually(async () => {
    const query = encodeURIComponent('http_request_duration_seconds_bucket{route="/orders/:id"}');
    const res = await fetch(
      `${prometheus.url}/api/v1/query_exemplars?query=${query}&start=${now - 60}&end=${now + 60}`,
    );
    const body = (await res.json()) as { data: { exemplars: { labels: Record<string, string> }[] }[] };
    const found = body.data.flatMap((series) => series.exemplars.map((e) => e.labels.trace_id));
    if (found.length === 0) throw new Error('no exemplars yet');
    return found;
  });
  expect(new Set(exemplars)).toEqual(new Set([traceId]));
});
