// A NestJS 12 service instrumented with routemeter: RoutemeterModule in the root module counts and times every
// request by route template, and serves them with the app's own prom-client metrics on GET /metrics.
//
//   PORT=3000 node server.js          (HOST defaults to 127.0.0.1; the Docker image sets HOST=0.0.0.0)
//   PLATFORM=fastify node server.js   the same app on @nestjs/platform-fastify (default: express)
//
// Routes, each chosen for what it shows in the metrics (the same as the other example services):
//   GET  /users/:id                      a controller route with a parameter: one series, whatever the id
//   GET  /orgs/:org/repos/:repo          a controller with a path prefix: the label is the full template
//   GET  /orgs/:org/repos/:repo/stars
//   GET  /slow?ms=250                    a slow route (random 50-400 ms without ?ms, at most 5 s)
//   POST /orders?fail=1                  fails sometimes: ?fail=1 always 500, ?fail=0 never, else FAIL_RATE (0.1)
//   GET  /stream?chunks=5                a streamed response (StreamableFile), timed to its last byte
//   GET  /metrics                        served by routemeter, outside any global prefix
// Anything else is Nest's 404, recorded under the one route label `#unmatched`.
//
// Plain JavaScript, so that it runs with `node server.js` like the other examples: Nest's decorators are
// applied as functions. In TypeScript you write them as usual (`@Controller('users')`, `@Get(':id')`, …).
import 'reflect-metadata';
import { Readable } from 'node:stream';
import {
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  InternalServerErrorException,
  Module,
  Param,
  Post,
  Query,
  StreamableFile,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { InjectRegistry, RoutemeterModule } from '@routemeter/nestjs';
import { Counter } from 'prom-client';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const failRate = Number(process.env.FAIL_RATE ?? 0.1);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clamp = (value, min, max) => Math.min(max, Math.max(min, value));

/** `@decorator` on a method, as TypeScript applies it. */
const decorate = (target, method, ...decorators) => {
  for (const decorator of decorators.reverse()) {
    decorator(target.prototype, method, Object.getOwnPropertyDescriptor(target.prototype, method));
  }
};
/** A parameter decorator on argument `index` of a method. */
const argument = (target, method, index, decorator) => decorator(target.prototype, method, index);

// The app's own business metric, on the registry routemeter records into, injected into a service.
class Orders {
  constructor(registry) {
    this.placed = new Counter({
      name: 'shop_orders_total',
      help: 'Orders placed, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }
}
Injectable()(Orders);
InjectRegistry()(Orders, undefined, 0);

class UsersController {
  get(id) {
    return { id, name: `user ${id}` };
  }
}
decorate(UsersController, 'get', Get(':id'));
argument(UsersController, 'get', 0, Param('id'));
Controller('users')(UsersController);

class ReposController {
  repo(org, repo) {
    return { org, repo };
  }
  stars(org, repo) {
    return { org, repo, stars: repo.length * 7 };
  }
}
decorate(ReposController, 'repo', Get(':repo'));
decorate(ReposController, 'stars', Get(':repo/stars'));
for (const method of ['repo', 'stars']) {
  argument(ReposController, method, 0, Param('org'));
  argument(ReposController, method, 1, Param('repo'));
}
Controller('orgs/:org/repos')(ReposController);

class ShopController {
  constructor(orders) {
    this.orders = orders;
  }
  async slow(asked) {
    const ms = asked === undefined ? 50 + Math.random() * 350 : clamp(Number(asked) || 0, 0, 5000);
    await sleep(ms);
    return { sleptMs: Math.round(ms) };
  }
  async order(forced) {
    const fail = forced === '1' || (forced !== '0' && Math.random() < failRate);
    await sleep(5);
    if (fail) {
      this.orders.placed.inc({ outcome: 'failed' });
      // Nest answers it with a JSON 500: { statusCode, message, error }.
      throw new InternalServerErrorException('payment provider unavailable');
    }
    this.orders.placed.inc({ outcome: 'placed' });
    return { order: Math.floor(Math.random() * 1e6) };
  }
  stream(asked) {
    const chunks = clamp(Number(asked) || 5, 1, 50);
    async function* lines() {
      for (let i = 1; i <= chunks; i++) {
        yield `line ${i} of ${chunks}\n`;
        await sleep(20);
      }
    }
    return new StreamableFile(Readable.from(lines()), { type: 'text/plain' });
  }
}
decorate(ShopController, 'slow', Get('slow'));
argument(ShopController, 'slow', 0, Query('ms'));
decorate(ShopController, 'order', Post('orders'), HttpCode(201));
argument(ShopController, 'order', 0, Query('fail'));
decorate(ShopController, 'stream', Get('stream'));
argument(ShopController, 'stream', 0, Query('chunks'));
Controller()(ShopController);
// `constructor(@Inject(Orders) orders: Orders)`: by token, which needs no emitted type metadata.
Inject(Orders)(ShopController, undefined, 0);

class AppModule {}
Module({
  // In-flight adds http_requests_in_flight{method}. METRICS_TOKEN, when set (the Kubernetes example's Secret),
  // turns on `auth`: scrapes without it get 401. NATIVE_HISTOGRAMS=1 adds native histograms
  // (`npm run demo -- --native-histograms`).
  imports: [
    RoutemeterModule.forRoot({
      requestsInFlight: true,
      auth: process.env.METRICS_TOKEN === undefined ? undefined : { bearer: process.env.METRICS_TOKEN },
      nativeHistograms: process.env.NATIVE_HISTOGRAMS === '1',
    }),
  ],
  controllers: [UsersController, ReposController, ShopController],
  providers: [Orders],
})(AppModule);

const platform = process.env.PLATFORM ?? 'express';
const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(AppModule, adapter, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
await app.listen(port, host);
const { address, port: bound } = app.getHttpServer().address();
console.log(`nestjs-service (${platform}) listening on http://${address}:${bound}`);

// Clean shutdown: stop accepting, let requests in progress finish (at most 5 s), then exit.
async function shutdown(signal) {
  console.log(`nestjs-service: ${signal}, shutting down`);
  setTimeout(() => process.exit(0), 5000).unref();
  await app.close();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
