import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SharedBody } from '../src/send-scrape.js';

const BLOCK = 64 * 1024;
/** Piece lengths (the pieces are built from them, so that a counterexample stays short). */
const lengths = fc.array(fc.integer({ min: 1, max: 40_000 }), { maxLength: 30 });
const piecesOf = (sizes: number[]) => sizes.map((size, i) => Buffer.alloc(size, i % 251));

describe('a shared body', () => {
  it('gives every stream the whole body, however the streams interleave, and one started later too', async () => {
    await fc.assert(
      fc.asyncProperty(
        lengths,
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { maxLength: 100 }),
        fc.integer({ min: -1, max: 3 }),
        async (sizes, count, order, destroyed) => {
          const pieces = piecesOf(sizes);
          const whole = Buffer.concat(pieces);
          const body = new SharedBody(pieces);
          const streams = Array.from({ length: count }, () => body.stream());
          const readers = streams.map((stream) => stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
          const read: Buffer[][] = streams.map(() => []);
          const open = [...streams.keys()].filter((i) => i !== destroyed);
          streams[destroyed]?.destroy();
          // Streams take one chunk each in the drawn order, then in turn until all have ended.
          for (let step = 0; open.length > 0; step++) {
            const at = (order[step] ?? step) % open.length;
            const i = open[at] as number;
            const next = await (readers[i] as AsyncIterator<Buffer>).next();
            if (next.done) open.splice(at, 1);
            else read[i]?.push(next.value);
          }
          read.forEach((chunks, i) => {
            if (i !== destroyed) expect(Buffer.concat(chunks).equals(whole)).toBe(true);
          });
          expect(Buffer.concat(await body.stream().toArray()).equals(whole)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('writes at most 64 KiB plus one piece at a time', async () => {
    await fc.assert(
      fc.asyncProperty(lengths, async (sizes) => {
        const largest = Math.max(0, ...sizes);
        const writes: number[] = [];
        const stream = new SharedBody(piecesOf(sizes)).stream();
        stream.on('data', (chunk: Buffer) => writes.push(chunk.length));
        await new Promise((resolve) => stream.on('end', resolve));
        expect(writes.reduce((a, b) => a + b, 0)).toBe(sizes.reduce((a, b) => a + b, 0));
        for (const bytes of writes) expect(bytes).toBeLessThanOrEqual(BLOCK + largest);
      }),
      { numRuns: 100 },
    );
  });
});
