/**
 * What routemeter reads of an @koa/router layer (12 to 15), by shape: it imports nothing of the router.
 * The router joins prefixes and nested routers' mount paths into each layer's `path` when it is added.
 */
export interface RouterLayer {
  readonly path: string | RegExp;
  /** Upper case; empty for middleware layers (`router.use`). GET routes also list HEAD. */
  readonly methods: readonly string[];
}

/** What @koa/router leaves on `ctx`: every layer it matched by path, in the order they matched. */
interface RoutedContext {
  readonly method: string;
  readonly matched?: readonly RouterLayer[] | undefined;
}

/** RegExp routes, as written (`/^\/files\/.*\.txt$/`), turned into text once per route. */
const regExpTemplates = new WeakMap<RegExp, string>();

/**
 * The template of the route @koa/router matched for this request's path and method, undefined if none did.
 * Not `ctx._matchedRoute`: that is the pattern of the layer that ran last, so a router middleware answering
 * before the route (`router.use(auth)` sending 401) or running after it leaves its own pattern there
 * (`/admin(?:\/|$)`). The router chose the route before running either; this is the layer it chose.
 * @example
 * routeTemplate(ctx); // '/orgs/:org/repos/:repo'
 */
export function routeTemplate(ctx: RoutedContext): string | undefined {
  const matched = ctx.matched;
  if (matched === undefined) return undefined;
  const method = ctx.method;
  for (let i = matched.length - 1; i >= 0; i--) {
    const layer = matched[i] as RouterLayer;
    if (layer.methods.includes(method)) return templateOf(layer.path);
  }
  return undefined;
}

function templateOf(path: string | RegExp): string {
  if (typeof path === 'string') return path;
  let template = regExpTemplates.get(path);
  if (template === undefined) {
    template = String(path);
    regExpTemplates.set(path, template);
  }
  return template;
}
