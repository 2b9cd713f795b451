import type { Logger } from './options.js';
import { guardExclude } from './user-code.js';

/**
 * `exclude` as one function of the request path. A path and its trailing-slash twin (`/health/`, which the
 * frameworks may route to `/health`) are excluded together. RegExps are copied without the `g` and `y`
 * flags, whose `lastIndex` would make every other test fail.
 */
export function compileExclude<Req>(
  exclude: ReadonlyArray<string | RegExp> | ((req: Req) => boolean),
  logger: Logger,
): (path: string, req: Req | undefined) => boolean {
  if (typeof exclude === 'function') {
    const isExcluded = guardExclude(exclude, logger);
    return (_path, req) => req !== undefined && isExcluded(req);
  }
  const paths = new Set(
    exclude.filter((entry): entry is string => typeof entry === 'string').map((path) => withoutTrailingSlash(path)),
  );
  const patterns = exclude
    .filter((entry): entry is RegExp => entry instanceof RegExp)
    .map((pattern) => new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')));
  const matches = (path: string) => paths.has(path) || patterns.some((pattern) => pattern.test(path));
  return function isExcludedPath(path) {
    if (path.length < 2 || path.charCodeAt(path.length - 1) !== SLASH) return matches(path);
    return matches(path) || matches(withoutTrailingSlash(path));
  };
}

const SLASH = 0x2f;

function withoutTrailingSlash(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === SLASH) end--;
  return end === path.length ? path : path.slice(0, end);
}
