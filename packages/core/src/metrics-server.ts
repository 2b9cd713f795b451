import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsAuth } from './auth.js';
import { ClusterCollector, type ClusterOptions, resolveClusterOptions } from './cluster/primary.js';
import { RoutemeterOptionError } from './errors.js';
import { createScrapeHandler, type ScrapeHandler } from './exposition.js';
import type { AnyRegistry, Logger } from './options.js';
import { resolveOptions } from './options.js';
import { pathOf } from './request-values.js';
import { writeScrape } from './send-scrape.js';

export interface MetricsServerOptions {
  /** Port to listen on; `0` picks a free one. Default: `9464` (the OpenTelemetry Prometheus exporter's). */
  port?: number | undefined;
  /** Address to listen on. Default: `'0.0.0.0'`; use `'127.0.0.1'` to keep it on the machine. */
  host?: string | undefined;
  /** Registry to serve. Default: prom-client's global `register`. */
  registry?: AnyRegistry | undefined;
  /** Path of the metrics. Default: `'/metrics'`. */
  path?: string | undefined;
  /** Who may read the metrics (as the adapters' `auth` option; a predicate receives the request). Default: anyone. */
  auth?: MetricsAuth<IncomingMessage> | undefined;
  /** Receives warnings. Default: `console`. */
  logger?: Logger | undefined;
  /**
   * In a cluster primary: serve the sum of every worker's metrics, asking the workers at every scrape and
   * waiting `timeoutMs` (default 2000) at most; `strict: true` answers 500 when a worker did not answer.
   * Workers need no setup beyond routemeter. See the README's "Node cluster" for what the sum guarantees.
   */
  cluster?: boolean | ClusterOptions | undefined;
}

export interface MetricsServer {
  readonly server: Server;
  /** The port it listens on (the one picked, when `port` was 0). */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves a registry on its own port, for apps that keep `/metrics` off their public port
 * (then run the adapter with `metricsPath: false`).
 * @example
 * app.use(routemeter({ metricsPath: false }));
 * const metrics = await serveMetrics({ port: 9464, auth: { bearer: process.env.METRICS_TOKEN } });
 */
export async function serveMetrics(options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const { port = 9464, host = '0.0.0.0', path = '/metrics' } = options;
  // The shared options are validated by the same checks as the adapters' (same names, same messages).
  const shared = resolveOptions<IncomingMessage, unknown>({
    registry: options.registry,
    metricsPath: path as string,
    auth: options.auth,
    logger: options.logger,
    defaultMetrics: false,
  });
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RoutemeterOptionError('port', `must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const cluster = resolveClusterOptions(options.cluster);
  if (cluster !== undefined && options.registry !== undefined) {
    throw new RoutemeterOptionError(
      'registry',
      "is not served with `cluster`: the primary serves its workers' registries; pass one or the other",
    );
  }
  const collector = cluster === undefined ? undefined : new ClusterCollector(cluster, shared.logger);
  const source = collector === undefined ? shared.registry : collector.collect;
  const scrape: ScrapeHandler<IncomingMessage> = createScrapeHandler(source, shared.logger, shared.auth);
  const server = createServer((req, res) => {
    const pathname = pathOf(req.url ?? '/');
    if (pathname !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(pathname === path ? 405 : 404, pathname === path ? { Allow: 'GET, HEAD' } : {}).end();
      return;
    }
    scrape(req.headers.accept, req.headers.authorization, req).then(
      (reply) => writeScrape(req, res, reply),
      () => {
        if (!res.headersSent) res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      collector?.start();
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close() {
      collector?.stop();
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
