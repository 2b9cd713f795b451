import { afterEach, expect, it } from 'vitest';
import { sampleValue, sumOf } from '../../../test-kit/metrics-text.js';
import { type Served, serve } from './serve.js';

// Found by the hostile-URL property: Fastify 4 answers a path whose `;`-delimited part fails to
// decode (`/a;b/%`) with a 404 before any hook runs, and routemeter did not count it.
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
});

it('counts a path with a semicolon and a malformed encoding once, under the unmatched label', async () => {
  served = await serve((app) => {
    app.get('/users/:id', async () => 'user');
  });
  const replies = [await served.send('/a;b/%'), await served.send('/a;/%E0%A4%A')];
  const metrics = await served.scrape();
  for (const { status } of replies) {
    expect(
      sampleValue(metrics, 'http_requests_total', { method: 'GET', route: '#unmatched', status_code: String(status) }),
    ).toBeGreaterThan(0);
  }
  expect(sumOf(metrics, 'http_requests_total')).toBe(2);
});
