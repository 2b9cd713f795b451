/** The label values routemeter writes itself, each from a bounded set. */

/** Route label of a request that matched no route (404s, unknown methods, malformed URLs). */
export const UNMATCHED_ROUTE = '#unmatched';

/** Route label of every route past `maxRoutes`. */
export const OVERFLOW_ROUTE = '#overflow';

/** Method label of any method outside the standard set (the OpenTelemetry convention). */
export const OTHER_METHOD = '_OTHER';

/** Status code label of a request whose client went away before a response was started. */
export const CLIENT_CLOSED_STATUS = 499;

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The method label: the method itself when standard, otherwise one constant, so methods cannot grow series. */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : OTHER_METHOD;
}

/** Label of a status code: exact (`'404'`) or by class (`'4xx'`). */
export function statusLabel(statusKey: number, byClass: boolean): string {
  return byClass ? `${statusKey}xx` : String(statusKey);
}

/**
 * The status to record for a response that closed: the one sent, or {@link CLIENT_CLOSED_STATUS} when the
 * client left before a response was started.
 */
export function closedStatus(headersSent: boolean, statusCode: number): number {
  return headersSent ? statusCode : CLIENT_CLOSED_STATUS;
}
