import cluster, { type Worker } from 'node:cluster';
import { RoutemeterOptionError } from '../errors.js';
import type { AnyRegistry, Logger } from '../options.js';
import { ClusterLedger } from './ledger.js';
import { ANSWER, REQUEST, type Request, readAnswer } from './protocol.js';

/**
 * The primary's half: at each scrape, ask every connected worker for its metrics over the cluster IPC
 * channel, wait at most `timeoutMs`, and serve what {@link ClusterLedger} makes of the answers.
 *
 * Nothing a worker does can crash the primary: every send has a callback, to which Node reports a failed
 * send instead of emitting an 'error' nobody listens to (a worker killed in the same tick as a scrape made
 * the old code die of `write EPIPE`); a worker that exits mid-scrape ends its wait at once; answers are
 * checked before use. There are two listeners on `cluster` in all, whatever the number of workers and of
 * concurrent scrapes, and scrapes that arrive while the workers are being asked share that round.
 */

export interface ClusterOptions {
  /** How long the primary waits for its workers at each scrape, in milliseconds. Default: `2000`. */
  readonly timeoutMs?: number | undefined;
  /** Answers a scrape with a 500 when any worker did not answer, instead of serving its last values. Default: `false`. */
  readonly strict?: boolean | undefined;
}

interface ResolvedClusterOptions {
  readonly timeoutMs: number;
  readonly strict: boolean;
}

const DEFAULTS: ResolvedClusterOptions = { timeoutMs: 2000, strict: false };
/** The longest delay setTimeout keeps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const shown = (value: unknown) =>
  typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'an array' : String(value);

/**
 * `serveMetrics`' `cluster` option, checked once.
 * @throws {RoutemeterOptionError} naming the option at fault.
 */
export function resolveClusterOptions(value: unknown): ResolvedClusterOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (cluster.isWorker) {
    throw new RoutemeterOptionError(
      'cluster',
      `is for the cluster primary, and this is worker ${cluster.worker?.id}: call serveMetrics({ cluster }) in the primary`,
    );
  }
  if (value === true) return DEFAULTS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RoutemeterOptionError('cluster', `must be a boolean or { timeoutMs, strict }, got ${shown(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!(key in DEFAULTS)) {
      throw new RoutemeterOptionError(
        `cluster.${key}`,
        'is not an option; the options of `cluster` are `timeoutMs` and `strict`',
      );
    }
  }
  const { timeoutMs = DEFAULTS.timeoutMs, strict = DEFAULTS.strict } = value as ClusterOptions;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RoutemeterOptionError(
      'cluster.timeoutMs',
      `must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}, got ${shown(timeoutMs)}`,
    );
  }
  if (typeof strict !== 'boolean') {
    throw new RoutemeterOptionError('cluster.strict', `must be a boolean, got ${shown(strict)}`);
  }
  return { timeoutMs, strict };
}

/** Request ids, unique in this process, so that several collectors can read each other's answers. */
let nextRequestId = 1;

/** One round of questions: the request id, and how each worker asked has answered so far. */
interface Round {
  readonly id: number;
  settle(worker: number, problem: string | undefined): void;
}

export class ClusterCollector {
  private readonly ledger: ClusterLedger;
  private pending: Promise<AnyRegistry> | undefined;
  private round: Round | undefined;
  /** Per worker, the newest request its recorded answer covers: an older answer arriving late is dropped. */
  private readonly answeredUpTo = new Map<number, number>();
  /** Workers that did not answer the last scrapes, and how many: a warning when it starts, one when it ends. */
  private readonly missing = new Map<number, number>();
  /** Workers whose answers could not be read, warned about once. */
  private readonly unreadable = new Set<number>();

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly logger: Logger,
  ) {
    this.ledger = new ClusterLedger(logger);
  }

  start(): void {
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  stop(): void {
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
  }

  /** The registry for a scrape: one round of questions to the workers, shared by the scrapes that arrive during it. */
  readonly collect = (): Promise<AnyRegistry> => {
    this.pending ??= this.ask().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  };

  private async ask(): Promise<AnyRegistry> {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker?.isConnected() === true,
    );
    const outcomes = await this.askAll(workers);
    const answered = new Set<number>();
    const problems: string[] = [];
    for (const worker of workers) {
      const problem = outcomes.get(worker.id);
      if (problem === undefined) {
        answered.add(worker.id);
        this.answered(worker.id);
      } else {
        problems.push(`worker ${worker.id} ${problem}`);
        // A worker that exited is forgotten (onExit), not counted as missing.
        if (!worker.isDead()) this.missed(worker.id, problem);
      }
    }
    if (this.options.strict && problems.length > 0) {
      throw new Error(`cluster ${problems.join('; ')} (cluster.strict: no scrape without every worker)`);
    }
    return this.ledger.registry(
      workers.map((worker) => worker.id),
      answered,
    );
  }

  /** Resolves once every worker has answered, failed or exited, or the time is up: each one's problem, if any. */
  private askAll(workers: readonly Worker[]): Promise<Map<number, string | undefined>> {
    const { timeoutMs } = this.options;
    return new Promise((resolve) => {
      const outcomes = new Map<number, string | undefined>();
      const asked = new Set(workers.map((worker) => worker.id));
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.round === round) this.round = undefined;
        for (const worker of asked)
          if (!outcomes.has(worker)) outcomes.set(worker, `did not answer within ${timeoutMs} ms`);
        resolve(outcomes);
      };
      const round: Round = {
        id: nextRequestId++,
        settle(worker, problem) {
          if (done || !asked.has(worker) || outcomes.has(worker)) return;
          outcomes.set(worker, problem);
          if (outcomes.size === asked.size) finish();
        },
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      this.round = round;
      for (const worker of workers) {
        const basis = this.answeredUpTo.get(worker.id);
        const request: Request = { type: REQUEST, id: round.id, ...(basis === undefined ? {} : { basis }) };
        worker.send(request, (error: Error | null) => {
          if (error) round.settle(worker.id, `could not be asked (${error.message})`);
        });
      }
      if (asked.size === 0) finish();
    });
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    // After 'exit' the worker's last answer is in the retained totals: a message still in the pipe must not add it again.
    if ((message as { type?: unknown } | null)?.type !== ANSWER || worker.isDead()) return;
    const answer = readAnswer(message);
    if (answer === undefined) {
      if (!this.unreadable.has(worker.id)) {
        this.unreadable.add(worker.id);
        this.logger.warn(
          `routemeter: cluster worker ${worker.id} sent an answer this primary cannot read (another routemeter version?); it counts as not answering`,
        );
      }
      return;
    }
    const newest = Math.max(...answer.ids);
    const recordedUpTo = this.answeredUpTo.get(worker.id);
    if (newest <= (recordedUpTo ?? 0)) return;
    let problem = answer.error === undefined ? undefined : `failed to collect its metrics: ${answer.error}`;
    // Left-out labels are those of the answer named `basis`: unusable unless it is the one recorded here.
    if (answer.families !== undefined) {
      const readable = answer.basis === undefined || answer.basis === recordedUpTo;
      if (readable && this.ledger.record(worker.id, answer.families)) this.answeredUpTo.set(worker.id, newest);
      else problem = 'answered relative to an answer this primary has not recorded';
    }
    const { round } = this;
    if (round !== undefined && answer.ids.includes(round.id)) round.settle(worker.id, problem);
  };

  private readonly onExit = (worker: Worker): void => {
    this.ledger.retire(worker.id);
    this.answeredUpTo.delete(worker.id);
    this.missing.delete(worker.id);
    this.unreadable.delete(worker.id);
    this.round?.settle(worker.id, 'exited');
  };

  private missed(worker: number, problem: string): void {
    const streak = this.missing.get(worker);
    this.missing.set(worker, (streak ?? 0) + 1);
    if (streak === undefined && !this.options.strict) {
      this.logger.warn(
        `routemeter: cluster worker ${worker} ${problem}: serving its last counter and histogram values, without its gauges`,
      );
    }
  }

  private answered(worker: number): void {
    const streak = this.missing.get(worker);
    if (streak === undefined) return;
    this.missing.delete(worker);
    if (!this.options.strict) {
      this.logger.warn(`routemeter: cluster worker ${worker} answered again, after ${streak} scrape(s) without it`);
    }
  }
}
