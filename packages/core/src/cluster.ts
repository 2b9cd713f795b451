import cluster from 'node:cluster';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';

type JsonMetric = MetricObjectWithValues<MetricValue<string>>;

import type { AnyRegistry, Logger } from './options.js';

/**
 * Node cluster support. Workers record locally; the primary asks every worker for its metrics over
 * the cluster IPC channel and serves their sum. Unlike prom-client's `AggregatorRegistry.clusterMetrics()`,
 * which fails the whole scrape when one worker is slow, each worker has its own deadline: the ones
 * that answered are served, and the ones that did not are counted in a gauge and logged.
 */

const REQUEST = 'routemeter:metrics-request';
const RESPONSE = 'routemeter:metrics-response';

interface MetricsRequest {
  readonly type: typeof REQUEST;
  readonly id: number;
}

interface MetricsResponse {
  readonly type: typeof RESPONSE;
  readonly id: number;
  readonly metrics?: JsonMetric[][];
  readonly error?: string;
}

/** Registries shared with the primary, with how many routemeters share each. */
const workerRegistries = new Map<AnyRegistry, number>();
let answering = false;

/**
 * In a cluster worker, makes this registry's metrics available to the primary, until the returned
 * function is called. Idempotent; a no-op elsewhere.
 */
export function shareWithPrimary(registry: AnyRegistry): () => void {
  if (!cluster.isWorker) return () => {};
  workerRegistries.set(registry, (workerRegistries.get(registry) ?? 0) + 1);
  let shared = true;
  const stopSharing = () => {
    if (!shared) return;
    shared = false;
    const sharers = (workerRegistries.get(registry) ?? 1) - 1;
    if (sharers === 0) workerRegistries.delete(registry);
    else workerRegistries.set(registry, sharers);
  };
  if (answering) return stopSharing;
  answering = true;
  process.on('message', (message: Partial<MetricsRequest> | null) => {
    if (message?.type !== REQUEST) return;
    const id = message.id as number;
    Promise.all(Array.from(workerRegistries.keys(), (r) => r.getMetricsAsJSON())).then(
      (metrics) => process.send?.({ type: RESPONSE, id, metrics } satisfies MetricsResponse),
      (error: unknown) =>
        process.send?.({
          type: RESPONSE,
          id,
          error: error instanceof Error ? error.message : String(error),
        } satisfies MetricsResponse),
    );
  });
  return stopSharing;
}

export interface ClusterOptions {
  /** How long the primary waits for each worker, in milliseconds. Default: `2000`. */
  readonly timeoutMs?: number | undefined;
}

/** The cluster-wide registry for one scrape, built in the primary from the workers' answers. */
export async function clusterRegistry(logger: Logger, options: ClusterOptions = {}): Promise<AnyRegistry> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker?.isConnected());
  const id = nextRequestId++;
  const answers = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<JsonMetric[][] | undefined>((resolve) => {
          const timer = setTimeout(() => finish(undefined, `did not answer within ${timeoutMs} ms`), timeoutMs);
          function finish(metrics: JsonMetric[][] | undefined, problem?: string) {
            clearTimeout(timer);
            worker?.off('message', onMessage);
            worker?.off('exit', onExit);
            if (problem !== undefined)
              logger.warn(
                `routemeter: cluster worker ${worker?.id} ${problem}; its metrics are left out of this scrape`,
              );
            resolve(metrics);
          }
          function onMessage(message: Partial<MetricsResponse> | null) {
            if (message?.type !== RESPONSE || message.id !== id) return;
            if (message.error !== undefined) finish(undefined, `failed to collect: ${message.error}`);
            else finish(message.metrics);
          }
          function onExit() {
            finish(undefined, 'exited');
          }
          worker?.on('message', onMessage);
          worker?.on('exit', onExit);
          worker?.send({ type: REQUEST, id } satisfies MetricsRequest);
        }),
    ),
  );
  const answered = answers.filter((metrics): metrics is JsonMetric[][] => metrics !== undefined);
  const registry: AnyRegistry = answered.length > 0 ? AggregatorRegistry.aggregate(answered.flat()) : new Registry();
  new Gauge({
    name: 'routemeter_cluster_workers',
    help: 'Cluster workers asked for metrics in this scrape.',
    registers: [registry as Registry],
  }).set(workers.length);
  new Gauge({
    name: 'routemeter_cluster_workers_answered',
    help: 'Cluster workers whose metrics are in this scrape.',
    registers: [registry as Registry],
  }).set(answered.length);
  return registry;
}

let nextRequestId = 0;
