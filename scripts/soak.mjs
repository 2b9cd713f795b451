#!/usr/bin/env node
// `npm run soak [-- --seconds 60]`: a bounded soak of both adapters (half the time each) with mixed
// valid, unmatched, erroring and aborted traffic on 127.0.0.1, then exact counts from /metrics,
// bounded series, and heap back near where it started; then 1,000 apps per adapter created and closed,
// which must leave less than 5 MB behind. Not part of `npm test` (a lighter lifecycle check is).
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
for (const adapter of ['express', 'fastify']) {
  console.log(`\n> 1,000 ${adapter} apps created and closed`);
  const result = spawnSync(process.execPath, ['--expose-gc', 'scripts/lib/lifecycle-run.mjs', adapter, '1000'], {
    cwd: root,
    encoding: 'utf8',
  });
  const retained = result.status === 0 ? JSON.parse(result.stdout).retainedMB : Number.NaN;
  console.log(result.status === 0 ? `retained ${retained} MB (limit 5)` : result.stderr);
  failed ||= !(retained < 5);
}
process.exit(failed ? 1 : 0);
