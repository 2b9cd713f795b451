import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from './options.js';
import { errorText, failureReporter, kindOf } from './user-code.js';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Who may read the metrics: bearer tokens and/or basic credentials (any one matching is enough),
 * or a predicate on the request.
 */
export type MetricsAuth<Req> =
  | {
      readonly bearer?: string | readonly string[] | undefined;
      readonly basic?: BasicCredentials | readonly BasicCredentials[] | undefined;
    }
  | ((req: Req) => boolean | Promise<boolean>);

/** Decides one scrape: true to serve it. */
export type Authorizer<Req> = (authorization: string | undefined, req: Req) => boolean | Promise<boolean>;

export interface CompiledAuth<Req> {
  readonly authorize: Authorizer<Req>;
  /** The `WWW-Authenticate` value of a 401, if the scheme has one. */
  readonly challenge: string | undefined;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Compares secrets in constant time: both sides are hashed to the same length first, every
 * configured secret is compared (no early exit), and the answer says nothing about which part was wrong.
 */
function anyMatches(candidate: string, secrets: readonly Buffer[]): boolean {
  const given = digest(candidate);
  let matched = false;
  for (const secret of secrets) matched = timingSafeEqual(given, secret) || matched;
  return matched;
}

export function compileAuth<Req>(auth: MetricsAuth<Req>, logger: Logger): CompiledAuth<Req> {
  if (typeof auth === 'function') return { authorize: guardPredicate(auth, logger), challenge: undefined };
  const tokens = toArray(auth.bearer).map(digest);
  const basics = toArray(auth.basic).map(({ username, password }) => digest(`${username}:${password}`));
  const challenges = [
    ...(tokens.length > 0 ? ['Bearer realm="metrics"'] : []),
    ...(basics.length > 0 ? ['Basic realm="metrics", charset="UTF-8"'] : []),
  ];
  return {
    authorize(header) {
      const space = header === undefined ? -1 : header.indexOf(' ');
      if (header === undefined || space < 0) return false;
      const scheme = header.slice(0, space).toLowerCase();
      const value = header.slice(space + 1).trim();
      if (scheme === 'bearer') return tokens.length > 0 && anyMatches(value, tokens);
      if (scheme === 'basic')
        return basics.length > 0 && anyMatches(Buffer.from(value, 'base64').toString('utf8'), basics);
      return false;
    },
    challenge: challenges.join(', '),
  };
}

/** An `auth` predicate: only `true` (or a promise of it) serves the scrape; a throw or rejection refuses it. */
function guardPredicate<Req>(predicate: (req: Req) => boolean | Promise<boolean>, logger: Logger): Authorizer<Req> {
  const report = failureReporter(logger, 'auth');
  return async function authorizeSafely(_header, req) {
    let allowed: unknown;
    try {
      allowed = await predicate(req);
    } catch (error) {
      report(`threw (${errorText(error)}); the scrape is refused`);
      return false;
    }
    if (typeof allowed === 'boolean') return allowed;
    report(`returned ${kindOf(allowed)}, not a boolean; the scrape is refused`);
    return false;
  };
}

function toArray<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
