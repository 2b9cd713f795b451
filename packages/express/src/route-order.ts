import type { ExpressApp, Layer } from './route-template.js';
import { templateOfRoute } from './route-template.js';

/**
 * The routes an app's router reaches before `middleware` (`GET /users/:id`, …): requests they answer never
 * get to it, so routemeter cannot record them. Empty when the middleware is not on the app's own router
 * (mounted on a sub-router, say), where the order cannot be told.
 */
export function unmeteredRoutes(app: unknown, middleware: unknown): string[] {
  const express = app as ExpressApp | undefined;
  const stack = (express?._router ?? express?.router)?.stack;
  if (!Array.isArray(stack)) return [];
  const position = stack.findIndex((layer) => (layer.handle as unknown) === middleware);
  const found: string[] = [];
  for (const layer of stack.slice(0, Math.max(position, 0))) collectRoutes(express, layer, found, new Set());
  return found;
}

/**
 * Whether `middleware` is anywhere in the app's router tree. It is not when another middleware calls it
 * (NestJS's `consumer.apply(routemeter()).forRoutes(…)` does): it then sees only what that one passes on.
 */
export function isOnRouter(app: unknown, middleware: unknown): boolean {
  const express = app as ExpressApp | undefined;
  const stack = (express?._router ?? express?.router)?.stack;
  return !Array.isArray(stack) || holds(stack, middleware, new Set());
}

function holds(stack: readonly Layer[], middleware: unknown, seen: Set<readonly Layer[]>): boolean {
  seen.add(stack);
  for (const layer of stack) {
    if ((layer.handle as unknown) === middleware) return true;
    const inner = layer.route?.stack ?? layer.handle.stack;
    if (Array.isArray(inner) && !seen.has(inner) && holds(inner, middleware, seen)) return true;
  }
  return false;
}

function collectRoutes(app: ExpressApp | undefined, layer: Layer, found: string[], seen: Set<Layer[]>): void {
  if (layer.route !== undefined) {
    const methods = Object.keys(layer.route.methods ?? {})
      .filter((method) => method !== '_all')
      .map((method) => method.toUpperCase());
    found.push(`${methods.join('|') || 'ALL'} ${templateOfRoute(app, layer.route)}`);
    return;
  }
  const stack = layer.handle.stack;
  if (!Array.isArray(stack) || seen.has(stack)) return;
  seen.add(stack);
  for (const inner of stack) collectRoutes(app, inner, found, seen);
}
