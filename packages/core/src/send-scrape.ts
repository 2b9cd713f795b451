import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import type { ScrapeResponse } from './exposition.js';

/** Bytes per write of a streamed body: smaller pieces are copied into blocks of at most this size. */
const BLOCK_BYTES = 64 * 1024;

/**
 * Bytes a stream writes before it lets the event loop turn. A socket that keeps up takes every write at
 * once, so without this one response would be written whole in one turn, and the 20 that share a
 * rendering all in the same one.
 */
const BYTES_PER_TURN = 4 * BLOCK_BYTES;

interface Cursor {
  /** The next block this stream sends. */
  block: number;
}

/**
 * A rendered body, as the scrapes that share it stream it. Its pieces are mostly chunks of cached series
 * text (series-chunks.ts), sent as they are; the small ones between them (headers, prom-client's metrics)
 * are copied into blocks of up to 64 KiB only when a stream asks for the next one. While
 * two or more streams of a body are open, a block one of them packed is kept until every one has sent
 * it: 20 scrapes at once copy the body once, not 20 times (20 copies also kept the garbage collector busy
 * enough to stall the event loop). A stream left alone packs its own. So a body holds at most one copy
 * of itself, for as long as its slowest shared stream, and a client that never reads holds a block or two.
 */
export class SharedBody {
  /** The piece each block starts at; the last entry is where the next block to pack starts. */
  private readonly starts = [0];
  private readonly blocks: (Buffer | undefined)[] = [];
  /** Blocks below this are dropped. */
  private dropped = 0;
  private readonly cursors = new Set<Cursor>();

  constructor(private readonly pieces: readonly Buffer[]) {}

  /** A new stream of the whole body, from its first byte. */
  stream(): Readable {
    const body = this;
    const cursor: Cursor = { block: 0 };
    let sinceTurn = 0;
    const take = () => {
      const block = body.next(cursor);
      sinceTurn += block?.length ?? 0;
      return block;
    };
    this.cursors.add(cursor);
    return new Readable({
      read() {
        if (sinceTurn < BYTES_PER_TURN) {
          this.push(take());
          return;
        }
        sinceTurn = 0;
        setImmediate(() => {
          if (!this.destroyed) this.push(take());
        });
      },
      destroy(error, callback) {
        body.cursors.delete(cursor);
        body.dropPassed();
        callback(error);
      },
    });
  }

  /** The cursor's next block (null at the end), packed if no stream has packed it yet or it was dropped. */
  private next(cursor: Cursor): Buffer | null {
    const i = cursor.block;
    const { pieces, starts, blocks } = this;
    let block: Buffer;
    if (i < blocks.length) {
      block = blocks[i] ?? pack(pieces, starts[i] as number, starts[i + 1] as number);
    } else {
      const start = starts[i] as number;
      if (start === pieces.length) return null;
      // Small pieces are gathered; a piece of a block's size or more (a chunk of cached series) goes alone, uncopied.
      let end = start + 1;
      let bytes = (pieces[start] as Buffer).length;
      while (end < pieces.length && bytes + (pieces[end] as Buffer).length <= BLOCK_BYTES) {
        bytes += (pieces[end++] as Buffer).length;
      }
      starts.push(end);
      block = pack(pieces, start, end);
      blocks.push(block);
    }
    cursor.block = i + 1;
    this.dropPassed();
    return block;
  }

  private dropPassed(): void {
    let keep = this.blocks.length;
    if (this.cursors.size > 1) for (const cursor of this.cursors) keep = Math.min(keep, cursor.block);
    while (this.dropped < keep) this.blocks[this.dropped++] = undefined;
  }
}

function pack(pieces: readonly Buffer[], start: number, end: number): Buffer {
  return end - start === 1 ? (pieces[start] as Buffer) : Buffer.concat(pieces.slice(start, end));
}

/** A client that leaves mid-body ends the pipeline with an error; the response is destroyed by then. */
function ignoreAbort(): void {}

/**
 * Writes a scrape to a Node response: status, headers and Content-Length, then the body streamed
 * (none for HEAD). A scrape that resolves late, after a timeout middleware answered or the client left,
 * writes nothing and throws nothing.
 * @example
 * recorder.scrape(req.headers.accept, req.headers.authorization, req).then((scrape) => writeScrape(req, res, scrape));
 */
export function writeScrape(req: IncomingMessage, res: ServerResponse, scrape: ScrapeResponse): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  res.writeHead(scrape.status, { ...scrape.headers, 'Content-Length': scrape.byteLength });
  if (req.method === 'HEAD') res.end();
  else pipeline(scrape.stream(), res, ignoreAbort);
}
