import fc from 'fast-check';
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { labelValues, parseExposition } from '../../../test-kit/metrics-text.js';
import { createRecorder } from '../src/adapter.js';
import { OTHER_METHOD, OVERFLOW_ROUTE, renderMetrics } from '../src/index.js';

const noSizes = { requestSize: () => undefined, responseSize: () => undefined };

it('labels are a deterministic, bounded function of method and route, whatever the input', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 30 })), { maxLength: 60 }),
      fc.integer({ min: 1, max: 10 }),
      async (requests, maxRoutes) => {
        const registry = new Registry();
        const meter = createRecorder({ registry, defaultMetrics: false, maxRoutes, logger: { warn() {} } }, noSizes);
        // Twice over: the second pass must land every request on the label the first pass gave it.
        for (let pass = 0; pass < 2; pass++) {
          for (const [method, route] of requests) meter.method(method).finish(route, 200, 0.01, {}, {});
        }
        const metrics = parseExposition(await renderMetrics(registry, false));
        const routes = labelValues(metrics, 'http_requests_total', 'route');
        const methods = labelValues(metrics, 'http_requests_total', 'method');
        expect(routes.filter((route) => route !== OVERFLOW_ROUTE).length).toBeLessThanOrEqual(maxRoutes);
        expect(routes.every((route) => route === OVERFLOW_ROUTE || requests.some(([, r]) => r === route))).toBe(true);
        expect(
          methods.every(
            (m) =>
              m === OTHER_METHOD ||
              ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'].includes(m),
          ),
        ).toBe(true);
        for (const sample of metrics.samples.filter((s) => s.name === 'http_requests_total')) {
          expect(sample.value % 2).toBe(0);
        }
      },
    ),
    { numRuns: 150 },
  );
});
