// What this machine charges for memory touched the first time. A first scrape writes its whole body (10 MB at
// 6,000 label sets) into memory the process never used, so where a page's first touch is slow (an AMD VM here:
// 15 µs, against well under 1 µs on a typical host) that alone is a large part of the first scrape.
import { execFileSync } from 'node:child_process';
import { pinned, SERVER_CORE } from './child.mjs';
import { median } from './stats.mjs';

const BYTES = 10 * 2 ** 20;
const PAGE = 4096;
const PROBE = `
const t0 = performance.now();
const b = Buffer.allocUnsafeSlow(${BYTES});
b.fill(1);
const t1 = performance.now();
b.fill(2);
console.log(JSON.stringify({ firstMs: t1 - t0, againMs: performance.now() - t1 }));
`;

/** 10 MiB filled in a fresh process on the server core, three times: the first fill and the second, in ms (medians), and µs a page. */
export function freshMemoryCost() {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const argv = [process.execPath, '-e', PROBE];
    const out = pinned
      ? execFileSync('taskset', ['-c', String(SERVER_CORE), ...argv], { encoding: 'utf8' })
      : execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    runs.push(JSON.parse(out));
  }
  const firstMs = median(runs.map((r) => r.firstMs));
  const againMs = median(runs.map((r) => r.againMs));
  return { firstMs, againMs, pageUs: ((firstMs - againMs) * 1000) / (BYTES / PAGE) };
}
