import type { RouteOptions } from 'fastify';

/**
 * The route label: Fastify's own template (`routeOptions.url`, prefix included). The trailing-slash twin
 * Fastify adds for a prefixed plugin's `/` route is labelled like the route without it, as Fastify itself
 * does in `routeOptions.config.url`; a prefix that ends in `/` keeps it.
 */
export function templateOf(routeOptions: Pick<RouteOptions, 'url'> & { routePath?: string; prefix?: string }): string {
  const { url, routePath, prefix } = routeOptions;
  if (routePath === '/' && prefix !== undefined && prefix !== '' && !prefix.endsWith('/') && url === `${prefix}/`) {
    return prefix;
  }
  return url;
}
