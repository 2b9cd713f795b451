import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createRecorder } from '../../src/adapter.js';

// Regressions: `routemeter()` then the app's own `collectDefaultMetrics()` threw prom-client's "already
// been registered" (the reverse order worked); after `registry.clear()` a new routemeter brought back its
// request metrics but not the process metrics.
const sizes = { requestSize: () => undefined, responseSize: () => undefined };
const names = (registry: Registry) => registry.getMetricsAsArray().map((metric) => metric.name);

it("lets the app collect prom-client's default metrics after routemeter did, and serves theirs", async () => {
  const registry = new Registry();
  createRecorder({ registry }, sizes);
  expect(names(registry)).toContain('process_cpu_user_seconds_total');
  expect(() => collectDefaultMetrics({ register: registry, labels: { app: 'mine' } })).not.toThrow();
  const text = await registry.metrics();
  expect(text).toMatch(/^process_cpu_user_seconds_total\{app="mine"\} /m);
  expect(names(registry).filter((name) => name === 'process_cpu_user_seconds_total')).toHaveLength(1);
});

it("keeps the app's default metrics when it collected them first", async () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, labels: { app: 'mine' } });
  createRecorder({ registry }, sizes);
  expect(await registry.metrics()).toMatch(/^process_cpu_user_seconds_total\{app="mine"\} /m);
});

it('brings the process metrics back to a cleared registry', () => {
  const registry = new Registry();
  createRecorder({ registry }, sizes);
  registry.clear();
  createRecorder({ registry }, sizes);
  expect(names(registry)).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'http_requests_total']));
});

it("still throws for a conflict between two of the app's own metrics", () => {
  const registry = new Registry();
  createRecorder({ registry }, sizes);
  new Counter({ name: 'orders_total', help: 'Orders.', registers: [registry] });
  expect(() => new Counter({ name: 'orders_total', help: 'Orders.', registers: [registry] })).toThrow(
    /already been registered/,
  );
});
