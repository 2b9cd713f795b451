import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));
const requireFromExpress = createRequire(`${root}/packages/express/package.json`);
const requireFromFastify = createRequire(`${root}/packages/fastify/package.json`);
const requireFromKoa = createRequire(`${root}/packages/koa/package.json`);
const requireFromNest11 = createRequire(`${root}/packages/nestjs/test/nest11/package.json`);
const nest11 = Object.fromEntries(
  ['common', 'core', 'platform-express', 'platform-fastify', 'swagger'].map((name) => [
    `@nestjs/${name}`,
    dirname(requireFromNest11.resolve(`@nestjs/${name}/package.json`)),
  ]),
);

// Tests run against the sources; the built packages are checked by publint, attw and the package smoke test.
// The subpath first: Vite matches aliases in order, and '@routemeter/core' is a prefix of it.
const sources = {
  '@routemeter/core/adapter': `${root}/packages/core/src/adapter.ts`,
  '@routemeter/core': `${root}/packages/core/src/index.ts`,
  '@routemeter/express': `${root}/packages/express/src/index.ts`,
  '@routemeter/fastify': `${root}/packages/fastify/src/index.ts`,
};

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        resolve: { alias: sources },
        test: { name: 'core', include: ['packages/core/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: sources },
        test: { name: 'express5', include: ['packages/express/test/**/*.test.ts'] },
      },
      {
        extends: true,
        // The same Express tests against Express 4: every `express` import, the adapter's included.
        resolve: { alias: { ...sources, express: dirname(requireFromExpress.resolve('express4/package.json')) } },
        test: { name: 'express4', include: ['packages/express/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: sources },
        test: { name: 'fastify5', include: ['packages/fastify/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: { ...sources, fastify: dirname(requireFromFastify.resolve('fastify4/package.json')) } },
        test: { name: 'fastify4', include: ['packages/fastify/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: { ...sources, '@routemeter/koa': `${root}/packages/koa/src/index.ts` } },
        test: { name: 'koa3', include: ['packages/koa/test/**/*.test.ts'] },
      },
      {
        extends: true,
        // The same Koa tests against Koa 2 (@koa/router does not load koa, so an alias reaches every use).
        resolve: {
          alias: {
            ...sources,
            '@routemeter/koa': `${root}/packages/koa/src/index.ts`,
            koa: dirname(requireFromKoa.resolve('koa2/package.json')),
          },
        },
        test: { name: 'koa2', include: ['packages/koa/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: { ...sources, '@routemeter/nestjs': `${root}/packages/nestjs/src/index.ts` } },
        test: { name: 'nest12', include: ['packages/nestjs/test/**/*.test.ts'] },
      },
      {
        extends: true,
        // The same Nest tests against Nest 11 (packages/nestjs/test/nest11), the package's sources included.
        resolve: { alias: { ...sources, '@routemeter/nestjs': `${root}/packages/nestjs/src/index.ts`, ...nest11 } },
        test: { name: 'nest11', include: ['packages/nestjs/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: sources },
        test: { name: 'examples', include: ['examples/**/*.test.ts'] },
      },
      {
        extends: true,
        // The repository's own tooling: release, changesets, CI workflows.
        test: { name: 'repo', include: ['scripts/**/*.test.ts'] },
      },
    ],
  },
});
