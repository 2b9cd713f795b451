import { OVERFLOW_ROUTE } from './labels.js';
import type { Logger } from './options.js';

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
