import type { Readable } from 'node:stream';
import { type MetricObject, Registry } from 'prom-client';
import type { CompiledAuth } from './auth.js';
import type { AnyRegistry, Logger } from './options.js';
import { PROTOBUF_CONTENT_TYPE, renderProtobufPieces } from './protobuf.js';
import { SharedBody } from './send-scrape.js';
import { isStore } from './store.js';
import { renderStore } from './store-text.js';
import { TurnBudget } from './turn-budget.js';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
export { PROTOBUF_CONTENT_TYPE };

/**
 * One answer to a scrape, for an adapter to send as it is (headers include Content-Type), with
 * {@link writeScrape} on a Node response or `stream()` as the body. Concurrent scrapes of one registry
 * in one format share one answer: a scrape of thousands of series is megabytes, rendered once and held once.
 */
export interface ScrapeResponse {
  readonly status: number;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Byte length of the whole body, for Content-Length. */
  readonly byteLength: number;
  /** The whole body as one string (joined on first read: for tests and small registries; not for protobuf). */
  readonly body: string;
  /**
   * A new stream of the body (UTF-8), in writes of ~64 KiB packed as the reader takes them, so that
   * neither a large body nor a client that never reads it stalls the event loop or holds a copy of it.
   */
  stream(): Readable;
}
/** Answers a scrape: `accept` and `authorization` are the request's headers; `req` is for an auth predicate. */
export type ScrapeHandler<Req> = (
  accept: string | undefined,
  authorization?: string,
  req?: Req,
) => Promise<ScrapeResponse>;

/** The exposition formats routemeter serves. */
export type ScrapeFormat = 'text' | 'openmetrics' | 'protobuf';

/**
 * The format an `Accept` header prefers: OpenMetrics 1.0.0, the Prometheus protobuf format (delimited
 * MetricFamily messages) or the text format 0.0.4, by quality and, between equals, by order. Prometheus asks
 * for OpenMetrics first by default, and for protobuf first when native histograms are on; anything else,
 * a missing header included, gets text.
 */
export function scrapeFormat(accept: string | undefined): ScrapeFormat {
  const header = accept?.toLowerCase();
  if (header === undefined || !(header.includes('openmetrics') || header.includes('protobuf'))) return 'text';
  let best: ScrapeFormat = 'text';
  let bestQ = 0;
  // Text's quality; among equals the format listed first wins, so a format must beat what came before it.
  let text = 0;
  let textListed = false;
  for (const range of header.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim());
    let q = 1;
    const param: Record<string, string> = Object.create(null);
    for (const pair of params) {
      const [key = '', value = ''] = pair.split('=').map((part) => part.trim());
      if (key === 'q') q = Number.parseFloat(value) || 0;
      else param[key] = value;
    }
    let format: ScrapeFormat | undefined;
    if (type === 'application/openmetrics-text' && (param.version ?? '1.0.0') === '1.0.0') format = 'openmetrics';
    else if (
      type === 'application/vnd.google.protobuf' &&
      param.proto === 'io.prometheus.client.metricfamily' &&
      param.encoding === 'delimited'
    ) {
      format = 'protobuf';
    } else if (
      (type === 'text/plain' && (param.version ?? '0.0.4') === '0.0.4') ||
      type === 'text/*' ||
      type === '*/*'
    ) {
      text = Math.max(text, q);
      textListed = true;
    }
    if (format !== undefined && q > bestQ && (q > text || !textListed)) {
      best = format;
      bestQ = q;
    }
  }
  return bestQ > text || (bestQ > 0 && bestQ === text) ? best : 'text';
}

/** Whether an `Accept` header prefers OpenMetrics 1.0.0 to the other formats ({@link scrapeFormat}). */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  return scrapeFormat(accept) === 'openmetrics';
}

/**
 * Renders every metric of the registry in either format without changing the registry.
 * prom-client renders one format per registry and, for OpenMetrics, renames counters in place
 * (`http_requests_total` becomes `http_requests`), which would corrupt every later text scrape.
 * So each scrape renders through a view of the registry with its own content type, and counters
 * through views that carry the OpenMetrics name, leaving the shared objects untouched.
 * routemeter's own stores are rendered by {@link renderStore}, to the same bytes, without stalling.
 */
export async function renderMetrics(registry: AnyRegistry, openMetrics: boolean): Promise<string> {
  return Buffer.concat(await renderMetricPieces(registry, openMetrics)).toString('utf8');
}

/** {@link renderMetrics} as pieces to write in order; routemeter's series are its cached texts, not copies. */
async function renderMetricPieces(registry: AnyRegistry, openMetrics: boolean): Promise<Buffer[]> {
  const contentType = openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
  const view: RenderingRegistry =
    registry.contentType === contentType
      ? (registry as unknown as RenderingRegistry)
      : Object.create(registry, { contentType: { value: contentType } });
  // prom-client keeps default labels privately; routemeter's stores need them to render as prom-client does.
  const defaultLabels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels ?? {};
  // prom-client's metrics may wait on an async collect(): all at once. routemeter's stores are CPU work:
  // one after another, on one budget per turn of the event loop.
  const turn = new TurnBudget();
  let storesRendered: Promise<unknown> = Promise.resolve();
  const rendered = await Promise.all(
    registry.getMetricsAsArray().map((metric) => {
      const shown = openMetrics ? openMetricsView(metric) : metric;
      if (!isStore(metric)) return view.getMetricsAsString(shown).then((text) => [Buffer.from(text)]);
      const store = storesRendered.then(() => renderStore(metric, shown.name, openMetrics, defaultLabels, turn));
      storesRendered = store;
      return store;
    }),
  );
  const separator = openMetrics ? NEWLINE : BLANK_LINE;
  const pieces: Buffer[] = [];
  rendered.forEach((parts, i) => {
    if (i > 0) pieces.push(separator);
    for (const part of parts) pieces.push(part);
  });
  pieces.push(openMetrics ? OPENMETRICS_END : NEWLINE);
  return pieces;
}

const NEWLINE = Buffer.from('\n');
const BLANK_LINE = Buffer.from('\n\n');
const OPENMETRICS_END = Buffer.from('\n# EOF\n');

/** prom-client's per-metric renderer: public JavaScript, missing from its type declarations. */
interface RenderingRegistry {
  getMetricsAsString(metric: MetricObject): Promise<string>;
}

function openMetricsView(metric: MetricObject): MetricObject {
  const { type, name } = metric as unknown as { type: string; name: string };
  if (type !== 'counter' || !name.endsWith('_total')) return metric;
  return Object.create(metric, { name: { value: name.slice(0, -'_total'.length), writable: true } });
}

const TEXT_PLAIN = 'text/plain; charset=utf-8';

function reply(
  status: number,
  contentType: string,
  pieces: readonly Buffer[],
  extra?: Record<string, string>,
): ScrapeResponse {
  const shared = new SharedBody(pieces);
  let body: string | undefined;
  return {
    status,
    contentType,
    headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store', ...extra },
    byteLength: pieces.reduce((total, piece) => total + piece.length, 0),
    get body() {
      body ??= Buffer.concat(pieces).toString('utf8');
      return body;
    },
    stream: () => shared.stream(),
  };
}

const FAILED = reply(500, TEXT_PLAIN, [Buffer.from('routemeter: collecting metrics failed\n')]);

const CONTENT_TYPES: Readonly<Record<ScrapeFormat, string>> = {
  text: PROMETHEUS_CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE,
  protobuf: PROTOBUF_CONTENT_TYPE,
};

/** Renders one answer; a registry that throws while collecting (or cannot be built) gives a 500 and one warning. */
async function answer(
  source: () => AnyRegistry | Promise<AnyRegistry>,
  format: ScrapeFormat,
  logger: Logger,
): Promise<ScrapeResponse> {
  try {
    const registry = await source();
    const pieces =
      format === 'protobuf'
        ? await renderProtobufPieces(registry)
        : await renderMetricPieces(registry, format === 'openmetrics');
    return reply(200, CONTENT_TYPES[format], pieces);
  } catch (error) {
    logger.warn(`routemeter: collecting metrics failed: ${error instanceof Error ? error.message : String(error)}`);
    return FAILED;
  }
}

/**
 * Answers being rendered, per format and registry. A scrape that arrives meanwhile, from any handler of
 * the registry, joins the rendering instead of starting another: 20 scrapes at once collect and render
 * once, and share one body. (A failed rendering is warned about by the handler that started it.)
 */
const rendering: Readonly<Record<ScrapeFormat, WeakMap<AnyRegistry, Promise<ScrapeResponse>>>> = {
  text: new WeakMap(),
  openmetrics: new WeakMap(),
  protobuf: new WeakMap(),
};

function sharedAnswer(registry: AnyRegistry, format: ScrapeFormat, logger: Logger): Promise<ScrapeResponse> {
  const renderings = rendering[format];
  let answered = renderings.get(registry);
  if (answered === undefined) {
    answered = answer(() => registry, format, logger);
    renderings.set(registry, answered);
    const done = () => renderings.delete(registry);
    answered.then(done, done);
  }
  return answered;
}

/**
 * Answers scrapes of a registry (or of the registry a function builds per scrape). Unauthorized scrapes
 * get a 401 that does not say what was wrong; a registry that throws while collecting gives a 500, never
 * a crash. Scrapes of a registry that arrive while it is being rendered share that rendering, once each
 * has passed `auth`; a registry built per scrape (cluster) is rendered per scrape.
 */
export function createScrapeHandler<Req>(
  source: AnyRegistry | (() => Promise<AnyRegistry>),
  logger: Logger,
  auth?: CompiledAuth<Req>,
): ScrapeHandler<Req> {
  const unauthorized = reply(
    401,
    TEXT_PLAIN,
    [Buffer.from('Unauthorized\n')],
    auth?.challenge ? { 'WWW-Authenticate': auth.challenge } : undefined,
  );
  return async function scrape(accept, authorization, req) {
    if (auth !== undefined && !(await auth.authorize(authorization, req as Req))) return unauthorized;
    const format = scrapeFormat(accept);
    return typeof source === 'function' ? answer(source, format, logger) : sharedAnswer(source, format, logger);
  };
}
