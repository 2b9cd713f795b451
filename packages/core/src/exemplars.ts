import { createRequire } from 'node:module';
import { RoutemeterOptionError } from './errors.js';
import type { Logger } from './options.js';
import { errorText, failureReporter, isThenable, kindOf, swallowRejection, wellFormed } from './user-code.js';

/** Reads a recorded request's exemplar labels (`{ trace_id }`), or undefined for none. */
export type ExemplarGetter<Req, Res> = (req: Req, res: Res) => Readonly<Record<string, string>> | undefined;

/** Exemplar labels that OpenMetrics can carry and Prometheus accepts, copied from what the getter returned. */
export type ExemplarLabels = Readonly<Record<string, string>>;

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

const EXEMPLAR_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** OpenMetrics: the label names and values of one exemplar hold at most 128 code points in all. */
const MAX_EXEMPLAR_CODE_POINTS = 128;

/**
 * The exemplar getter, answering only labels a real Prometheus accepts: a plain object of string values
 * with valid names, no NUL (Prometheus 2.42 rejects the whole scrape for one), 128 code points in all.
 * Anything else, a throw included, means no exemplar for that request, reported through the logger.
 * The labels are copied, so the user's object can change afterwards without breaking a later scrape.
 */
export function guardExemplars<Req, Res>(
  getter: (req: Req, res: Res) => unknown,
  logger: Logger,
): (req: Req, res: Res) => ExemplarLabels | undefined {
  const report = failureReporter(logger, 'exemplars');
  return function exemplarSafely(req, res) {
    let problem: string | undefined;
    try {
      const labels = getter(req, res);
      if (labels === undefined) return undefined;
      const copy = exemplarLabels(labels);
      if (typeof copy !== 'string') return copy;
      swallowRejection(labels);
      problem = copy;
    } catch (error) {
      problem = `threw (${errorText(error)})`;
    }
    report(`${problem}; the request is recorded without an exemplar`);
    return undefined;
  };
}

/** A valid copy of exemplar labels, or what is wrong with them. */
function exemplarLabels(labels: unknown): ExemplarLabels | string {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels) || isThenable(labels)) {
    return `returned ${kindOf(labels)}, not an object of string labels`;
  }
  const copy: Record<string, string> = {};
  let codePoints = 0;
  for (const name of Object.keys(labels)) {
    const value: unknown = (labels as Record<string, unknown>)[name];
    if (!EXEMPLAR_LABEL_NAME.test(name)) return `returned an invalid exemplar label name ${JSON.stringify(name)}`;
    if (typeof value !== 'string') return `returned ${kindOf(value)} for exemplar label '${name}', not a string`;
    if (value.includes('\u0000')) return `returned a NUL character in exemplar label '${name}'`;
    const text = wellFormed(value);
    codePoints += name.length + codePointCount(text);
    copy[name] = text;
  }
  if (codePoints > MAX_EXEMPLAR_CODE_POINTS) {
    return `returned exemplar labels of ${codePoints} characters, more than OpenMetrics' ${MAX_EXEMPLAR_CODE_POINTS}`;
  }
  return copy;
}

/** Code points of a well-formed string: UTF-16 units less one per surrogate pair. */
function codePointCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) count -= 1;
  }
  return count;
}
