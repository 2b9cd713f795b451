import type { Logger } from './options.js';

/**
 * The user's callbacks (`normalizeRoute`, `labels`, `exclude`, `exemplars`, `auth`, `logger`) run inside
 * other people's request handling, so each one is wrapped here, once, at creation: whatever it throws,
 * rejects or returns, the wrapper returns a documented fallback and nothing reaches the framework.
 * The try/catch is around the user's call only, never around routemeter's own recording.
 */

/** Failures of one callback are logged once, then at most once a minute with a count. */
const REPORT_INTERVAL_MS = 60_000;

/** A logger whose `warn` can neither throw nor leave a rejected promise behind. */
export function quietLogger(logger: Logger): Logger {
  return {
    warn(message) {
      try {
        swallowRejection(logger.warn(message));
      } catch {
        // A logger that fails has nowhere to report to.
      }
    },
  };
}

/**
 * Reports the failures of one named callback through the logger: the first at once, later ones at most
 * once a minute, counting those in between. Called only when a callback has failed.
 */
export function failureReporter(logger: Logger, callback: string): (problem: string) => void {
  let lastReport = Number.NEGATIVE_INFINITY;
  let unreported = 0;
  return function reportFailure(problem) {
    const now = Date.now();
    if (now - lastReport < REPORT_INTERVAL_MS) {
      unreported += 1;
      return;
    }
    const since =
      unreported === 0 ? '' : ` (and ${unreported} more time${unreported === 1 ? '' : 's'} in the last minute)`;
    logger.warn(`routemeter: \`${callback}\` ${problem}${since}`);
    lastReport = now;
    unreported = 0;
  };
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

const ignore = () => {};

/** A promise the user returned where none was expected: its rejection must not become an unhandled one. */
export function swallowRejection(value: unknown): void {
  if (isThenable(value)) {
    try {
      value.then(ignore, ignore);
    } catch {
      // A thenable whose then() throws has nothing left to reject.
    }
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'a value that cannot be printed';
  }
}

/** A short, safe description of a value returned where another kind was expected. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isThenable(value)) return 'a Promise (it must answer synchronously)';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** ES2024's String methods, present in every Node routemeter supports (20+), missing from the ES2023 lib. */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/**
 * The string with lone surrogates replaced by U+FFFD. UTF-8 output writes them as U+FFFD anyway, so two
 * different ill-formed strings would otherwise render as one label value in two series.
 */
export function wellFormed(text: string): string {
  const unicode = text as unknown as WellFormedString;
  return unicode.isWellFormed() ? text : unicode.toWellFormed();
}

/** `normalizeRoute`, answering the template itself when the user's function fails or returns a non-string. */
export function guardNormalizeRoute<Req>(
  normalizeRoute: (route: string, req: Req) => string,
  logger: Logger,
): (route: string, req: Req) => string {
  const report = failureReporter(logger, 'normalizeRoute');
  return function normalizeRouteSafely(route, req) {
    let result: unknown;
    try {
      result = normalizeRoute(route, req);
    } catch (error) {
      report(`threw (${errorText(error)}); the route template is used`);
      return route;
    }
    if (typeof result === 'string') return result;
    swallowRejection(result);
    report(`returned ${kindOf(result)}, not a string; the route template is used`);
    return route;
  };
}

/** The value of a failed label: empty, which Prometheus reads as the label being absent. */
export const FAILED_LABEL_VALUE = '';

/** A `labels` getter, answering strings only: numbers, booleans and bigints as text, anything else empty. */
export function guardLabel<Req, Res>(
  name: string,
  getter: (req: Req, res: Res) => unknown,
  logger: Logger,
): (req: Req, res: Res) => string {
  const report = failureReporter(logger, `labels.${name}`);
  return function labelValueSafely(req, res) {
    let value: unknown;
    try {
      value = getter(req, res);
    } catch (error) {
      report(`threw (${errorText(error)}); the label is left empty`);
      return FAILED_LABEL_VALUE;
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
    swallowRejection(value);
    report(`returned ${kindOf(value)}, not a string or number; the label is left empty`);
    return FAILED_LABEL_VALUE;
  };
}

/** An `exclude` predicate: truthy excludes; a throw or a Promise records the request. */
export function guardExclude<Req>(exclude: (req: Req) => unknown, logger: Logger): (req: Req) => boolean {
  const report = failureReporter(logger, 'exclude');
  return function isExcludedSafely(req) {
    let result: unknown;
    try {
      result = exclude(req);
    } catch (error) {
      report(`threw (${errorText(error)}); the request is recorded`);
      return false;
    }
    if (!isThenable(result)) return Boolean(result);
    swallowRejection(result);
    report(`returned ${kindOf(result)}; the request is recorded`);
    return false;
  };
}
