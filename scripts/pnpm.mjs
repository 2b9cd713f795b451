#!/usr/bin/env node
// `node scripts/pnpm.mjs <args>`: the pinned pnpm, bootstrapped on first use, with the workspace installed.
import { ensureInstalled, pnpm } from './lib/pnpm.mjs';

const args = process.argv.slice(2);
if (args[0] !== 'install') ensureInstalled();
pnpm(args);
