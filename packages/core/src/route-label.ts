import type { Logger } from './options.js';

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
 * The distinct route label values seen so far, capped at `maxRoutes` across all methods.
 * Consulted only when a (method, route) pair is seen for the first time, or for routes past the cap.
 */
export class RouteTable {
  readonly #routes = new Set<string>();
  readonly #maxRoutes: number;
  readonly #logger: Logger;
  #warned = false;

  constructor(maxRoutes: number, logger: Logger) {
    this.#maxRoutes = maxRoutes;
    this.#logger = logger;
  }

  /** The label to use for a route: the route itself while under the cap, {@link OVERFLOW_ROUTE} after. */
  admit(route: string): string {
    if (this.#routes.has(route)) return route;
    if (this.#routes.size < this.#maxRoutes) {
      this.#routes.add(route);
      return route;
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn(
        `routemeter: more than ${this.#maxRoutes} distinct routes (maxRoutes); '${route}' and later new routes are recorded as '${OVERFLOW_ROUTE}'`,
      );
    }
    return OVERFLOW_ROUTE;
  }
}
