import { afterEach, describe, expect, it } from 'vitest';
import {
  type DecodedHistogram,
  decode,
  nativeBucketsOf,
  PROMETHEUS_NATIVE_ACCEPT,
} from '../../core/test/protobuf-kit.js';
import { type Served, serve } from './serve.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

describe('nativeHistograms on an Express app', () => {
  it('serves native-only histograms (buckets: []) over protobuf, and only +Inf, sum and count as text', async () => {
    served = await serve(
      (app) => {
        app.get('/a', (_req, res) => {
          res.send('ok');
        });
      },
      { nativeHistograms: true, buckets: [] },
    );
    for (let i = 0; i < 5; i++) expect((await served.send('/a')).status).toBe(200);

    const res = await fetch(`http://127.0.0.1:${served.port}/metrics`, {
      headers: { accept: PROMETHEUS_NATIVE_ACCEPT },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.google\.protobuf; /);
    const { families, reencoded } = decode(new Uint8Array(await res.clone().arrayBuffer()));
    expect(reencoded.equals(Buffer.from(await res.arrayBuffer()))).toBe(true);
    const histogram = families.find((f) => f.name === 'http_request_duration_seconds')?.metric[0]
      ?.histogram as DecodedHistogram;
    expect(histogram.sample_count).toBe(5);
    expect(histogram.bucket).toBeUndefined();
    expect(histogram.schema).toBe(3);
    expect([...nativeBucketsOf(histogram).values()].reduce((a, b) => a + b, 0) + (histogram.zero_count ?? 0)).toBe(5);

    const text = await served.scrape();
    const buckets = text.samples.filter((s) => s.name === 'http_request_duration_seconds_bucket');
    expect(buckets.map((s) => [s.labels.le, s.value])).toEqual([['+Inf', 5]]);
  });
});
