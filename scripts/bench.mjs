#!/usr/bin/env node
// `npm run bench`: install, build the packages, then run the benchmark (bench/run.mjs) with the given
// arguments, e.g. `npm run bench -- --quick`. `--no-build` skips the build. See bench/README.md.
import { join } from 'node:path';
import { ensureInstalled, env, pnpm, root, run } from './lib/pnpm.mjs';

const args = process.argv.slice(2);
ensureInstalled();
if (!args.includes('--no-build')) pnpm(['--recursive', '--filter', './packages/*', 'run', 'build']);
run(process.execPath, [join(root, 'bench', 'run.mjs'), ...args.filter((arg) => arg !== '--no-build')], { env });
