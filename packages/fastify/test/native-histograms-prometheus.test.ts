import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../../../test-kit/prometheus.js';
import { type Served, serve } from './serve.js';

let served: Served | undefined;
const prometheuses: RunningPrometheus[] = [];
afterEach(async () => {
  for (const prometheus of prometheuses.splice(0)) await prometheus.stop();
  await served?.close();
  served = undefined;
});

/** The value at rank ⌈q·n⌉: the one whose bucket Prometheus's histogram_quantile interpolates in. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.ceil(q * sorted.length) - 1] as number;
}

/** Schema 3 (bucketFactor 1.1): a value and its estimate share a bucket, at most 2^(1/8) apart. */
const RELATIVE_ERROR = 2 ** (1 / 8) - 1;
const REQUESTS = 200;
const AT_ONCE = 50;

describe('a real Prometheus 2.42 reading native histograms over protobuf from a Fastify app', () => {
  it('gives histogram_count, histogram_sum and quantiles of what was recorded; one without the flag still reads the classic series', async () => {
    const durations: number[] = [];
    const sizes: number[] = [];
    async function routes(app: FastifyInstance) {
      app.get<{ Params: { ms: string; bytes: string } }>('/wait/:ms/:bytes', async (request) => {
        await new Promise((resolve) => setTimeout(resolve, Number(request.params.ms)));
        return 'x'.repeat(Number(request.params.bytes));
      });
      // After routemeter's own onResponse hook: Fastify's elapsedTime is fixed when the response ended,
      // so this reads the very durations routemeter recorded.
      app.addHook('onResponse', async (request, reply) => {
        if (!request.url.startsWith('/wait/')) return;
        durations.push(reply.elapsedTime / 1000);
        sizes.push(Number(reply.getHeader('content-length')));
      });
    }
    served = await serve(routes, { nativeHistograms: true, responseSize: true });
    const target = [{ job: 'app', port: served.port }];
    prometheuses.push(await startPrometheus(target, ['--enable-feature=native-histograms']));
    prometheuses.push(await startPrometheus(target));
    const [native, classic] = prometheuses as [RunningPrometheus, RunningPrometheus];
    await Promise.all([native.waitForScrapes(), classic.waitForScrapes()]);

    // 1 ms to 150 ms and 1 B to 20 kB, spread evenly on a log scale, 50 requests at a time.
    const requests = Array.from({ length: REQUESTS }, (_, i) => ({
      ms: Math.round(150 ** (i / (REQUESTS - 1))),
      bytes: Math.round(20_000 ** (((i * 7) % REQUESTS) / (REQUESTS - 1))),
    }));
    for (let i = 0; i < REQUESTS; i += AT_ONCE) {
      const replies = await Promise.all(
        requests.slice(i, i + AT_ONCE).map(({ ms, bytes }) => (served as Served).send(`/wait/${ms}/${bytes}`)),
      );
      expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => 200));
    }
    expect(durations).toHaveLength(REQUESTS);
    const since = Date.now();
    await Promise.all([native.waitForScrapes(since), classic.waitForScrapes(since)]);

    const value = async (prometheus: RunningPrometheus, expr: string) => {
      const result = await prometheus.query(expr);
      expect(result, expr).toHaveLength(1);
      return Number(result[0]?.value[1]);
    };
    const series = '{job="app",route="/wait/:ms/:bytes",status_code="200"}';
    const durationSum = durations.reduce((a, b) => a + b, 0);
    const sizeSum = sizes.reduce((a, b) => a + b, 0);

    // Native histograms, read over protobuf.
    const duration = `http_request_duration_seconds${series}`;
    expect(await value(native, `histogram_count(${duration})`)).toBe(REQUESTS);
    expect(await value(native, `histogram_sum(${duration})`)).toBeCloseTo(durationSum, 9);
    expect(await value(native, `http_requests_total${series}`)).toBe(REQUESTS);
    const size = `http_response_size_bytes${series}`;
    expect(await value(native, `histogram_count(${size})`)).toBe(REQUESTS);
    expect(await value(native, `histogram_sum(${size})`)).toBe(sizeSum);
    for (const [name, recorded] of [
      [duration, durations],
      [size, sizes],
    ] as const) {
      const sorted = [...recorded].sort((a, b) => a - b);
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = exactQuantile(sorted, q);
        const estimate = await value(native, `histogram_quantile(${q}, ${name})`);
        expect(Math.abs(estimate - exact), `q${q} of ${name}: ${estimate} vs ${exact}`).toBeLessThanOrEqual(
          RELATIVE_ERROR * exact,
        );
      }
    }

    // The classic series, to a Prometheus without the flag (2.42 drops them from a family it reads as native).
    expect(await value(classic, `http_request_duration_seconds_count${series}`)).toBe(REQUESTS);
    expect(await value(classic, `http_request_duration_seconds_sum${series}`)).toBeCloseTo(durationSum, 9);
    for (const [le, bound] of [
      ['0.01', 0.01],
      ['0.1', 0.1],
      ['+Inf', Number.POSITIVE_INFINITY],
    ] as const) {
      expect(await value(classic, `http_request_duration_seconds_bucket{le="${le}",route="/wait/:ms/:bytes"}`)).toBe(
        durations.filter((seconds) => seconds <= bound).length,
      );
    }
    expect(await value(classic, `http_response_size_bytes_count${series}`)).toBe(REQUESTS);
  });
});
