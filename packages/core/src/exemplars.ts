import { createRequire } from 'node:module';
import { RoutemeterOptionError } from './errors.js';

/** Reads a recorded request's exemplar labels (`{ trace_id }`), or undefined for none. */
export type ExemplarGetter<Req, Res> = (req: Req, res: Res) => Readonly<Record<string, string>> | undefined;

interface OpenTelemetryApi {
  trace: { getActiveSpan(): { spanContext(): { traceId: string; spanId: string; traceFlags: number } } | undefined };
  isSpanContextValid(context: { traceId: string; spanId: string }): boolean;
}

/**
 * `exemplars: true`: the trace and span ids of the OpenTelemetry span active when the request is
 * recorded. `@opentelemetry/api` is an optional peer dependency, loaded only here, once.
 */
export function activeSpanExemplar(): ExemplarGetter<unknown, unknown> {
  let api: OpenTelemetryApi;
  try {
    api = createRequire(import.meta.url)('@opentelemetry/api') as OpenTelemetryApi;
  } catch {
    throw new RoutemeterOptionError(
      'exemplars',
      'is true, which reads the active OpenTelemetry span, but @opentelemetry/api is not installed: install it, or pass a function (req, res) => ({ trace_id })',
    );
  }
  return function activeSpanIds() {
    const context = api.trace.getActiveSpan()?.spanContext();
    return context !== undefined && api.isSpanContextValid(context)
      ? { trace_id: context.traceId, span_id: context.spanId }
      : undefined;
  };
}
