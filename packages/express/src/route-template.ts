/**
 * The route template of a finished Express request, joined across routers and sub-apps:
 * `app.use('/orgs/:org/repos', router)` + `router.get('/:repo')` gives `/orgs/:org/repos/:repo`.
 *
 * Express keeps only the matched text of mount points (`req.baseUrl`) and the last segment's
 * pattern (`req.route.path`). So mount patterns are read from the router tree instead: Express 5.3
 * stores them on each layer (`layer.rawPath`); older routers get them recorded when `use()` is
 * called ({@link recordMountPaths}). The tree is walked once per route, the first time a request
 * ends on it, and the result is kept on the route object: per request this is one property read.
 */

import type { Logger } from '@routemeter/core';

const kMountPath = Symbol('routemeter.mountPath');
const kTemplates = Symbol('routemeter.templates');
const kRecording = Symbol('routemeter.recordingMountPaths');
const kMounts = Symbol('routemeter.mounts');

type PathPattern = string | RegExp | readonly PathPattern[];

export interface Layer {
  route?: Route | undefined;
  handle: { stack?: Layer[] };
  rawPath?: PathPattern;
  [kMountPath]?: PathPattern;
  /** Express 4 and router < 2.3 flag a mount at '/' here. */
  regexp?: { fast_slash?: boolean };
  slash?: boolean;
}

export interface Route {
  path: PathPattern;
  methods?: Record<string, boolean>;
  stack?: Layer[];
  [kTemplates]?: Templates;
}

export interface ExpressApp {
  _router?: { stack: Layer[] };
  router?: { stack: Layer[] };
  mountpath?: PathPattern;
  parent?: ExpressApp;
  [kMounts]?: Mounts;
}

/** What a request reads to find its template; Express's own request has all of it. */
export interface RoutedRequest {
  route?: Route | undefined;
  baseUrl?: string;
  app?: unknown;
}

/** One way a route is reached: the mount prefix (as segments, to match `req.baseUrl`) and the full template. */
interface Candidate {
  readonly mountSegments: readonly string[];
  readonly template: string;
  /** Whether a router on the way was mounted before {@link recordMountPaths} could see it (`*` in the template). */
  readonly unknownMount: boolean;
}

/** A route reached one way has its template; one reached several ways keeps the candidates. */
type Templates = string | readonly Candidate[];

/** An app's mount points, and the label of each `req.baseUrl` seen so far (at most {@link MAX_MOUNT_URLS}). */
interface Mounts {
  readonly candidates: readonly Candidate[];
  readonly byBaseUrl: Map<string, string | undefined>;
}

/** Mounts with parameters (`/files/:bucket`) have as many `req.baseUrl`s as clients send: the cache stops here. */
const MAX_MOUNT_URLS = 1000;

/**
 * The template of the route that handled the request, or undefined when no route matched. The first time
 * a route is reached through a router whose mount path is unknown, `logger` is told how to fix it.
 */
export function routeTemplate(req: RoutedRequest, logger?: Logger): string | undefined {
  const route = req.route;
  if (route === undefined) return undefined;
  let templates = route[kTemplates];
  if (templates === undefined) {
    const candidates = findCandidates(req.app as ExpressApp | undefined, route);
    templates = candidates.length === 0 ? formatPattern(route.path) : uniqueTemplates(candidates);
    route[kTemplates] = templates;
    const unknown = candidates.find((candidate) => candidate.unknownMount);
    if (unknown !== undefined) {
      logger?.warn(
        `routemeter: route '${unknown.template}' is reached through a router mounted before @routemeter/express was imported, so its mount path is labelled '*': import @routemeter/express before the modules that build your routers`,
      );
    }
  }
  return typeof templates === 'string' ? templates : pickByBaseUrl(templates, req.baseUrl ?? '');
}

/**
 * The label of a response ended by middleware mounted on a path, outside any route (`express.static` at
 * `/static`, a proxy at `/api`, a sub-app without routes): its mount pattern and a wildcard, `/static/*`.
 * Express leaves `req.baseUrl` at the mount's matched text when the middleware answers instead of calling
 * `next()`, and resets it when it passes the request on; so an empty one means no mount answered.
 * The app's mount points are read from its router tree the first time, as routes are.
 */
export function mountTemplate(req: RoutedRequest): string | undefined {
  const baseUrl = req.baseUrl;
  if (baseUrl === undefined || baseUrl === '') return undefined;
  const app = req.app as ExpressApp | undefined;
  if (app === undefined) return undefined;
  let mounts = app[kMounts];
  if (mounts === undefined) {
    mounts = { candidates: findMounts(app), byBaseUrl: new Map() };
    app[kMounts] = mounts;
  }
  if (mounts.byBaseUrl.has(baseUrl)) return mounts.byBaseUrl.get(baseUrl);
  const actual = segments(baseUrl);
  const template = mounts.candidates.find((mount) => mountMatches(mount.mountSegments, actual))?.template;
  if (mounts.byBaseUrl.size < MAX_MOUNT_URLS) mounts.byBaseUrl.set(baseUrl, template);
  return template;
}

/** Every mount point under an app, deepest first (so `/api/static` is tried before `/api/:any`), labelled `<mount>/*`. */
function findMounts(app: ExpressApp): Candidate[] {
  const found: Candidate[] = [];
  const router = app._router ?? app.router;
  for (const appPrefix of appPrefixes(app)) {
    if (router !== undefined) collectMounts(router.stack, appPrefix, found, new Set());
  }
  return found.sort((a, b) => b.mountSegments.length - a.mountSegments.length);
}

function collectMounts(stack: readonly Layer[], prefix: string, found: Candidate[], seen: Set<Layer[]>): void {
  for (const layer of stack) {
    if (layer.route !== undefined) continue;
    const pattern = mountPattern(layer);
    for (const mount of alternatives(pattern ?? UNKNOWN_MOUNT)) {
      const path = joinPaths(prefix, mount);
      if (path !== '/' && path !== '') {
        found.push({
          mountSegments: segments(path),
          template: joinPaths(path, '/*'),
          unknownMount: pattern === undefined,
        });
      }
      const inner = layer.handle.stack;
      if (Array.isArray(inner) && !seen.has(inner)) {
        seen.add(inner);
        collectMounts(inner, path, found, seen);
        seen.delete(inner);
      }
    }
  }
}

/** The route's full template, the first one if it is reached several ways. */
export function templateOfRoute(app: ExpressApp | undefined, route: Route): string {
  return findCandidates(app, route)[0]?.template ?? formatPattern(route.path);
}

/** Every way to the route through the app's router tree (several when a router is mounted at several paths). */
function findCandidates(app: ExpressApp | undefined, route: Route): Candidate[] {
  const candidates: Candidate[] = [];
  for (const appPrefix of appPrefixes(app)) {
    const router = app?._router ?? app?.router;
    if (router !== undefined) collect(router.stack, route, appPrefix, false, candidates, new Set());
  }
  return candidates;
}

function uniqueTemplates(candidates: readonly Candidate[]): Templates {
  const unique = [...new Map(candidates.map((c) => [c.template, c])).values()];
  return unique.length === 1 ? (unique[0] as Candidate).template : unique;
}

function collect(
  stack: readonly Layer[],
  route: Route,
  prefix: string,
  unknownMount: boolean,
  found: Candidate[],
  seen: Set<Layer[]>,
): void {
  for (const layer of stack) {
    if (layer.route === route) {
      const template = joinPaths(prefix, formatPattern(route.path));
      found.push({ mountSegments: segments(prefix), template, unknownMount });
    } else if (layer.route === undefined && Array.isArray(layer.handle.stack) && !seen.has(layer.handle.stack)) {
      seen.add(layer.handle.stack);
      const pattern = mountPattern(layer);
      for (const mount of alternatives(pattern ?? UNKNOWN_MOUNT)) {
        collect(
          layer.handle.stack,
          route,
          joinPaths(prefix, mount),
          unknownMount || pattern === undefined,
          found,
          seen,
        );
      }
      seen.delete(layer.handle.stack);
    }
  }
}

/** The label of a mount path routemeter could not see. */
const UNKNOWN_MOUNT = '*';

/** A layer's mount path; undefined where it was mounted before {@link recordMountPaths} could see it. */
function mountPattern(layer: Layer): PathPattern | undefined {
  return (
    layer.rawPath ?? layer[kMountPath] ?? (layer.regexp?.fast_slash === true || layer.slash === true ? '/' : undefined)
  );
}

/** Mount prefixes of an app: empty for the main app, its mount paths (through its parents) for a sub-app. */
function appPrefixes(app: ExpressApp | undefined): string[] {
  if (app?.parent === undefined || app.mountpath === undefined) return [''];
  const own = alternatives(app.mountpath);
  return appPrefixes(app.parent).flatMap((parent) => own.map((mount) => joinPaths(parent, mount)));
}

/** A mount path given as an array mounts at each element. */
function alternatives(pattern: PathPattern): string[] {
  return Array.isArray(pattern) ? pattern.flatMap((p: PathPattern) => alternatives(p)) : [formatPattern(pattern)];
}

/** A route's label pattern: strings as written, RegExps as `/source/flags`, arrays joined by `|`. */
function formatPattern(pattern: PathPattern): string {
  if (typeof pattern === 'string') return pattern;
  if (pattern instanceof RegExp) return String(pattern);
  return pattern.map((p: PathPattern) => formatPattern(p)).join('|');
}

function joinPaths(prefix: string, path: string): string {
  if (path === '/' || path === '') return prefix === '' ? '/' : prefix;
  if (prefix === '' || prefix === '/') return path;
  return prefix.endsWith('/') && path.startsWith('/') ? prefix + path.slice(1) : prefix + path;
}

function segments(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/** Of several ways to a route, the one whose mount prefix matches the text Express matched. */
function pickByBaseUrl(candidates: readonly Candidate[], baseUrl: string): string {
  const actual = segments(baseUrl);
  const match = candidates.find((candidate) => mountMatches(candidate.mountSegments, actual));
  return (match ?? (candidates[0] as Candidate)).template;
}

function mountMatches(pattern: readonly string[], actual: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    if (expected.startsWith('*') || expected.startsWith('(')) return true;
    if (i >= actual.length) return false;
    if (!expected.startsWith(':') && expected.toLowerCase() !== (actual[i] as string).toLowerCase()) return false;
  }
  return pattern.length === actual.length;
}

/**
 * Makes a copy of Express record the path of each `use()` mount on its layer, for routers that do not
 * keep it themselves (Express 4, Express 5 before router 2.3). Idempotent. Called for the `express`
 * this package resolves when it is imported, so it must be imported before routers are built.
 */
export function recordMountPaths(express: unknown): void {
  const Router = (express as { Router?: { prototype?: { use?: unknown }; use?: unknown } } | undefined)?.Router;
  const proto = (typeof Router?.prototype?.use === 'function' ? Router.prototype : Router) as
    | { use?: (...args: unknown[]) => unknown; [kRecording]?: true }
    | undefined;
  if (typeof proto?.use !== 'function' || proto[kRecording]) return;
  const use = proto.use;
  proto.use = function useRecordingMountPath(this: { stack: Layer[] }, ...args: unknown[]) {
    const from = this.stack.length;
    const result = use.apply(this, args);
    const path = mountPathArgument(args);
    for (let i = from; i < this.stack.length; i++) (this.stack[i] as Layer)[kMountPath] = path;
    return result;
  };
  proto[kRecording] = true;
}

/** The path argument of `use()`, found the way Express finds it: the first argument unless it holds a function. */
function mountPathArgument(args: readonly unknown[]): PathPattern {
  let first = args[0];
  while (Array.isArray(first) && first.length > 0) first = first[0];
  return typeof first === 'function' ? '/' : (args[0] as PathPattern);
}
