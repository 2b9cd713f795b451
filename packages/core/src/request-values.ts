/** Small readers of HTTP values that every adapter needs the same way. */

/** A Content-Length header as a number of bytes; undefined when absent, repeated or not a size. */
export function contentLength(header: string | number | readonly string[] | undefined): number | undefined {
  if (header === undefined || Array.isArray(header)) return undefined;
  const length = Number(header);
  return Number.isFinite(length) && length >= 0 ? length : undefined;
}

/** The path of a request target, without its query string (not decoded, as `exclude` paths are written). */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** What {@link httpSizes} reads: Node's request and response, and the frameworks' that mirror them. */
interface WithHeaders {
  readonly headers: { readonly 'content-length'?: string | undefined };
}
interface WithGetHeader {
  getHeader(name: string): string | number | readonly string[] | undefined;
}

/**
 * Body sizes from `Content-Length`: the request's header, and the header the response was sent with.
 * A response may be null (Fastify's reply of a request aborted before routemeter saw it begin).
 */
export const httpSizes = {
  requestSize: (req: WithHeaders) => contentLength(req.headers['content-length']),
  responseSize: (res: WithGetHeader | null) =>
    res === null ? undefined : contentLength(res.getHeader('content-length')),
};
