import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/adapter.ts'],
  format: ['esm', 'cjs'],
  // Both entries share one copy of the module state (the cluster registries, the shared process metrics),
  // in CommonJS too, where tsup does not split by default.
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url (for the optional @opentelemetry/api) in the CommonJS build too.
  shims: true,
});
