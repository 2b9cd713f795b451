import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { type Reply, send } from '../../../test-kit/http.js';
import { type Exposition, parseExposition } from '../../../test-kit/metrics-text.js';

/** The Nest major under test: 12, or 11 in the nest11 project (vitest.config.ts). */
export const nestMajor = Number(
  (await import('@nestjs/core/package.json', { with: { type: 'json' } })).default.version.split('.')[0],
);

export type Platform = 'express' | 'fastify';
export const platforms: readonly Platform[] = ['express', 'fastify'];

export interface Served {
  readonly app: INestApplication;
  readonly port: number;
  send(path: string, options?: Parameters<typeof send>[2]): Promise<Reply>;
  /** GETs /metrics (or the path given) and parses it. */
  scrape(path?: string): Promise<Exposition>;
  close(): Promise<void>;
}

/**
 * A real Nest app of these module parts on `platform`, set up by `configure` (global prefix, versioning…)
 * before it listens on loopback.
 */
export async function serveNest(
  platform: Platform,
  metadata: ModuleMetadata,
  configure: (app: INestApplication) => void | Promise<void> = () => {},
  fastifyOptions: ConstructorParameters<typeof FastifyAdapter>[0] = {},
): Promise<Served> {
  @Module(metadata)
  class AppModule {}
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(fastifyOptions);
  const app = await NestFactory.create(AppModule, adapter, { logger: false, abortOnError: false });
  await configure(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    app,
    port,
    send: (path, options) => send(port, path, options),
    async scrape(path = '/metrics') {
      const reply = await send(port, path);
      if (reply.status !== 200) throw new Error(`scrape answered ${reply.status}: ${reply.body}`);
      return parseExposition(reply.body);
    },
    close: () => app.close(),
  };
}
