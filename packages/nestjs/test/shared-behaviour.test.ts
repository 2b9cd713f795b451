import { Controller, Get, HttpCode, Param, Post, StreamableFile } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { type AdapterUnderTest, type BehaviourOptions, describeAdapterBehaviour } from '../../../test-kit/behaviour.js';
import { describeAdapterGuarantees } from '../../../test-kit/guarantees.js';
import { slowChunks } from '../../../test-kit/http.js';
import { type NestRoutemeterOptions, RoutemeterModule } from '../src/index.js';
import { nestMajor, platforms, serveNest } from './serve.js';

// The standard route set of the shared behaviour table (test-kit/behaviour.ts), the Nest way: controllers.
@Controller()
class AppController {
  @Get('users/:id')
  user(@Param('id') id: string) {
    return `user ${id}`;
  }

  @Post('users')
  create() {
    return 'created';
  }

  @Get('boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get('async-boom')
  async asyncBoom(): Promise<never> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('later');
  }

  @Get('teapot')
  @HttpCode(418)
  teapot() {
    return 'teapot';
  }

  @Get('health')
  health() {
    return 'ok';
  }

  @Get('slow')
  async slow() {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return 'slow';
  }

  @Get('stream')
  stream() {
    return new StreamableFile(slowChunks(4, 60), { type: 'text/plain' });
  }
}

@Controller('orgs/:org/repos')
class ReposController {
  @Get()
  list() {
    return 'repos';
  }

  @Get(':repo')
  repo(@Param('repo') repo: string) {
    return `repo ${repo}`;
  }
}

for (const platform of platforms) {
  const adapter = {
    name: `nest${nestMajor} ${platform}`,
    newRegistry: () => new Registry(),
    newGauge: (config) => void new Gauge({ ...config, registers: config.registers as Registry[] }),
    async start(options: BehaviourOptions) {
      const served = await serveNest(
        platform,
        {
          imports: [RoutemeterModule.forRoot(options as NestRoutemeterOptions)],
          controllers: [AppController, ReposController],
        },
        undefined,
        // `/orgs/acme/repos/` as Express and a Fastify plugin's `get('/')` answer it.
        { routerOptions: { ignoreTrailingSlash: true } },
      );
      return { port: served.port, close: served.close };
    },
  } satisfies AdapterUnderTest;
  describeAdapterBehaviour(adapter);
  describeAdapterGuarantees(adapter);
}
