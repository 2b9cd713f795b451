import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createRecorder } from '../src/adapter.js';
import { renderMetrics } from '../src/index.js';

interface Req {
  trace?: string;
}

function meterWithExemplars(exemplars: (req: Req) => Record<string, string> | undefined) {
  const registry = new Registry();
  const meter = createRecorder<Req, unknown>(
    { registry, defaultMetrics: false, buckets: [0.1, 1], exemplars },
    { requestSize: () => undefined, responseSize: () => undefined },
  );
  return { registry, get: meter.method('GET') };
}

const line = (body: string, start: string) => body.split('\n').find((l) => l.startsWith(start));

describe('exemplars', () => {
  it('puts the latest exemplar of each bucket and of the counter in OpenMetrics output only', async () => {
    const { registry, get } = meterWithExemplars((req) =>
      req.trace === undefined ? undefined : { trace_id: req.trace },
    );
    get.finish('/x', 200, 0.05, { trace: 'aaa' }, {});
    get.finish('/x', 200, 0.07, { trace: 'bbb' }, {});
    get.finish('/x', 200, 0.5, {}, {});
    get.finish('/x', 200, 3, { trace: 'ccc' }, {});
    const open = await renderMetrics(registry, true);
    const labels = 'method="GET",route="/x",status_code="200"';
    expect(line(open, `http_request_duration_seconds_bucket{le="0.1",${labels}}`)).toMatch(
      /^http_request_duration_seconds_bucket\{le="0\.1",[^}]+\} 2 # \{trace_id="bbb"\} 0\.07 \d+\.?\d*$/,
    );
    expect(line(open, `http_request_duration_seconds_bucket{le="1",${labels}}`)).toBe(
      `http_request_duration_seconds_bucket{le="1",${labels}} 3`,
    );
    expect(line(open, `http_request_duration_seconds_bucket{le="+Inf",${labels}}`)).toMatch(
      / 4 # \{trace_id="ccc"\} 3 \d/,
    );
    expect(line(open, 'http_requests_total{')).toMatch(/ 4 # \{trace_id="ccc"\} 1 \d/);
    const text = await renderMetrics(registry, false);
    expect(text).not.toContain('trace_id');
  });

  it('leaves out exemplars that break the OpenMetrics rules instead of failing the scrape', async () => {
    const { registry, get } = meterWithExemplars((req) =>
      req.trace === 'long' ? { trace_id: 'x'.repeat(130) } : { 'bad-name': 'y' },
    );
    get.finish('/x', 200, 0.05, { trace: 'long' }, {});
    get.finish('/y', 200, 0.05, {}, {});
    const open = await renderMetrics(registry, true);
    expect(open).not.toContain(' # {');
  });

  it('writes hostile exemplar values escaped and whole, in every chunk of a large body', async () => {
    // Quotes, backslashes, newlines, lone surrogates and 4-byte characters, over enough series for many chunks.
    // (A NUL is refused at record time, with a warning: express/test/exemplars.test.ts tests it.)
    const value = fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }).filter((v) => !v.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 5 }), async (traces) => {
        let next = 0;
        const { registry, get } = meterWithExemplars(() => ({ trace_id: traces[next++ % traces.length] as string }));
        const routes = Array.from({ length: 300 }, (_, i) => `/tenants/:tenant/${'p'.repeat(i % 30)}/${i}`);
        for (const route of routes) get.finish(route, 200, 3, {}, {});
        const open = await renderMetrics(registry, true);
        routes.forEach((route, i) => {
          // Written as UTF-8: a lone surrogate comes back as U+FFFD, as it would from Buffer.from.
          const trace = Buffer.from(traces[i % traces.length] as string).toString();
          const escaped = trace.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
          const labels = `method="GET",route="${route}",status_code="200"`;
          expect(line(open, `http_request_duration_seconds_bucket{le="+Inf",${labels}}`)).toContain(
            `} 1 # {trace_id="${escaped}"} 3 `,
          );
        });
      }),
      { numRuns: 30 },
    );
  });

  it('rejects a non-boolean, non-function exemplars option', () => {
    expect(() => meterWithExemplars('yes' as never)).toThrow(
      'routemeter: option `exemplars` must be a boolean or a function (req, res) => labels, got "yes"',
    );
  });
});
