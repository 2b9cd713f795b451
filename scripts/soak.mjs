#!/usr/bin/env node
// `npm run soak [-- --seconds 60]`: a bounded soak of both adapters (half the time each) with mixed
// valid, unmatched, erroring and aborted traffic on 127.0.0.1, then exact counts from /metrics,
// bounded series, and heap back near where it started. Not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { ensureInstalled, pnpm, root } from './lib/pnpm.mjs';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 60);
if (!(seconds > 0 && seconds <= 600)) throw new Error('--seconds must be between 1 and 600');

ensureInstalled();
pnpm(['--recursive', '--filter', './packages/*', 'run', 'build']);
let failed = false;
for (const adapter of ['express', 'fastify']) {
  console.log(`\n> soak ${adapter}, ${seconds / 2} s`);
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', 'scripts/lib/soak-run.mjs', adapter, String(seconds / 2)],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
