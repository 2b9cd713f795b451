import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Served, serve } from './serve.js';

// exemplars: true reads the active OpenTelemetry span. Here the span is set by a middleware, as the
// OpenTelemetry HTTP instrumentation would, with the real context manager.
let served: Served;
const manager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(manager.enable());
  served = await serve(
    (app) => {
      app.get('/traced/:id', (_req, res) => {
        res.send('ok');
      });
    },
    { exemplars: true },
  );
  // The span must be active around the whole request, routemeter included: wrap the app's handler.
  const app = served.app as unknown as { handle: (...args: unknown[]) => void };
  const handle = app.handle.bind(app);
  app.handle = (req, res, next) => {
    const traceId = String((req as { headers: Record<string, string> }).headers['x-trace-id'] ?? '');
    const span = trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 });
    context.with(trace.setSpan(context.active(), span), () => handle(req, res, next));
  };
});

afterAll(async () => {
  await served?.close();
  context.disable();
});

it('exemplars: true takes the trace id of the active OpenTelemetry span', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  await served.send('/traced/1', { headers: { 'x-trace-id': traceId } });
  const body = (await served.send('/metrics', { headers: { accept: 'application/openmetrics-text' } })).body;
  const bucket = body.split('\n').find((line) => line.includes('route="/traced/:id"') && line.includes(' # {'));
  expect(bucket).toMatch(new RegExp(`# \\{trace_id="${traceId}",span_id="00f067aa0ba902b7"\\} [0-9.e-]+ \\d`));
  const counter = body.split('\n').find((line) => line.startsWith('http_requests_total{'));
  expect(counter).toContain(`# {trace_id="${traceId}",span_id="00f067aa0ba902b7"} 1 `);
});
