import { Controller, Get, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { routemeter as expressRoutemeter } from '@routemeter/express';
import { routemeter as fastifyRoutemeter } from '@routemeter/fastify';
import { Registry } from 'prom-client';
import { expect, it, vi } from 'vitest';
import { countsOf, parseExposition } from '../../../test-kit/metrics-text.js';
import { RoutemeterModule } from '../src/index.js';
import { nestMajor, serveNest } from './serve.js';

// The ways to get request metrics wrong in a Nest app, each told with its fix: the adapters used the way
// Nest documents middleware and plugins, and the module in an app with no HTTP server.
@Controller('users')
class Users {
  @Get(':id')
  get() {
    return 'user';
  }
}

const apiPrefix = (app: { setGlobalPrefix(prefix: string): unknown }) => {
  app.setGlobalPrefix('api');
};

it(`nest${nestMajor}: consumer.apply(routemeter()).forRoutes('*') warns, naming RoutemeterModule`, async () => {
  const warnings: string[] = [];
  const registry = new Registry();
  @Module({ controllers: [Users] })
  class UsersModule implements NestModule {
    configure(consumer: MiddlewareConsumer) {
      const logger = { warn: (message: string) => warnings.push(message) };
      consumer.apply(expressRoutemeter({ registry, defaultMetrics: false, logger })).forRoutes('*');
    }
  }
  const app = await serveNest('express', { imports: [UsersModule] }, apiPrefix);
  try {
    await app.send('/api/users/1');
    await app.send('/api/users/2');
    // What the warning is about: /metrics never reaches the middleware.
    expect((await app.send('/metrics')).status).toBe(404);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("NestJS's `consumer.apply(routemeter()).forRoutes(…)`");
    expect(warnings[0]).toContain('import `RoutemeterModule.forRoot()` from @routemeter/nestjs');
  } finally {
    await app.close();
  }
});

it(`nest${nestMajor}: app.register(routemeter) without await on platform-fastify warns, naming the await`, async () => {
  const warnings: string[] = [];
  const registry = new Registry();
  const app = await serveNest('fastify', { controllers: [Users] }, (nest) => {
    const logger = { warn: (message: string) => warnings.push(message) };
    // Not awaited: Nest adds the controllers' routes before the plugin's onRoute hook is in place.
    void (nest as unknown as { register(plugin: unknown, options: unknown): Promise<unknown> }).register(
      fastifyRoutemeter,
      { registry, defaultMetrics: false, logger },
    );
  });
  try {
    await app.send('/users/1');
    expect(warnings).toEqual([
      'routemeter: 1 route was added before routemeter was registered and is not recorded (GET /users/:id): `await app.register(routemeter)` before adding routes and plugins',
    ]);
    expect(countsOf(parseExposition((await app.send('/metrics')).body))).toEqual({});
  } finally {
    await app.close();
  }
});

it(`nest${nestMajor}: RoutemeterModule in an app with no HTTP server warns that it records nothing`, async () => {
  const warnings: string[] = [];
  const logger = { warn: (message: string) => warnings.push(message) };
  @Module({ imports: [RoutemeterModule.forRoot({ registry: new Registry(), defaultMetrics: false, logger })] })
  class Worker {}
  const context = await NestFactory.createApplicationContext(Worker, { logger: false, abortOnError: false });
  await context.close();
  expect(warnings).toEqual([
    'routemeter: RoutemeterModule records HTTP requests of Express and Fastify apps, and this app is not an HTTP app (NestFactory.createApplicationContext or createMicroservice): nothing is recorded; remove RoutemeterModule, or create the app with NestFactory.create on @nestjs/platform-express or @nestjs/platform-fastify',
  ]);
});

it(`nest${nestMajor}: importing RoutemeterModule without forRoot warns, naming forRoot`, async () => {
  const warned: unknown[][] = [];
  const spy = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    warned.push(args);
  });
  try {
    const app = await serveNest('express', { imports: [RoutemeterModule], controllers: [Users] });
    try {
      expect((await app.send('/users/1')).status).toBe(200);
      expect((await app.send('/metrics')).status).toBe(404);
    } finally {
      await app.close();
    }
    expect(warned).toEqual([
      [
        'routemeter: RoutemeterModule is imported without options, so it installs nothing and records no request: import `RoutemeterModule.forRoot()` (or `forRootAsync(…)`)',
      ],
    ]);
    // forRoot, the right way, warns of nothing.
    warned.length = 0;
    const right = await serveNest('express', {
      imports: [RoutemeterModule.forRoot({ registry: new Registry(), defaultMetrics: false })],
      controllers: [Users],
    });
    await right.close();
    expect(warned).toEqual([]);
  } finally {
    spy.mockRestore();
  }
});

it(`nest${nestMajor}: RoutemeterModule and app.use(routemeter()) on platform-express: counted once, the second warns`, async () => {
  const warnings: string[] = [];
  const logger = { warn: (message: string) => warnings.push(message) };
  const registry = new Registry();
  const app = await serveNest(
    'express',
    { imports: [RoutemeterModule.forRoot({ registry, defaultMetrics: false, logger })], controllers: [Users] },
    (nest) => {
      nest.use(expressRoutemeter({ registry: new Registry(), defaultMetrics: false, logger }));
    },
  );
  try {
    await app.send('/users/1');
    await app.send('/users/2');
    expect(countsOf(await app.scrape())).toEqual({ 'GET /users/:id 200': 2 });
    expect(warnings).toEqual([
      'routemeter: a request reached this middleware already recorded by another routemeter (an earlier `app.use(routemeter())`, or RoutemeterModule in a Nest app): it is counted once, by the first, and the options of this one are not used: keep one routemeter per app',
    ]);
  } finally {
    await app.close();
  }
});
