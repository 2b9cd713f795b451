/**
 * The routes a Fastify app already has, read from `printRoutes({ commonPrefix: false })` (Fastify has no
 * other public list): when routemeter's plugin runs, these were added before its `onRoute` hook and are
 * never recorded. One entry per path; HEAD routes Fastify adds by itself are not counted.
 */
export function existingRoutes(fastify: { printRoutes(options: { commonPrefix: false }): string }): string[] {
  let tree: string;
  try {
    tree = fastify.printRoutes({ commonPrefix: false });
  } catch {
    return [];
  }
  const found: string[] = [];
  const parents: string[] = [];
  for (const line of tree.split('\n')) {
    const branch = line.search(/[├└]── /);
    if (branch < 0) continue;
    const depth = branch / 4;
    const node = line.slice(branch + 4);
    const methods = /^(.*) \(([A-Z, ]+)\)$/.exec(node);
    const path = (parents[depth - 1] ?? '') + (methods?.[1] ?? node);
    parents[depth] = path;
    parents.length = depth + 1;
    if (methods === null) continue;
    const own = (methods[2] as string).split(', ').filter((method) => method !== 'HEAD');
    if (own.length > 0) found.push(`${own.join('|')} ${path}`);
  }
  return found;
}
