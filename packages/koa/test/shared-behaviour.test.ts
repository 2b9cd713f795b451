import Router from '@koa/router';
import { Gauge, Registry } from 'prom-client';
import {
  type AdapterUnderTest,
  type BehaviourApp,
  type BehaviourOptions,
  describeAdapterBehaviour,
} from '../../../test-kit/behaviour.js';
import { describeAdapterGuarantees } from '../../../test-kit/guarantees.js';
import { slowChunks } from '../../../test-kit/http.js';
import { koaMajor, serve } from './serve.js';

/** The standard route set of the shared behaviour table (test-kit/behaviour.ts), the Koa way. */
async function startStandardApp(options: BehaviourOptions): Promise<BehaviourApp> {
  const served = await serve((app) => {
    const router = new Router();
    router.get('/users/:id', (ctx) => {
      ctx.body = `user ${ctx.params.id}`;
    });
    router.post('/users', (ctx) => {
      ctx.status = 201;
      ctx.body = 'created';
    });
    const repos = new Router();
    repos.get('/', (ctx) => {
      ctx.body = 'repos';
    });
    repos.get('/:repo', (ctx) => {
      ctx.body = `repo ${ctx.params.repo}`;
    });
    router.use('/orgs/:org/repos', repos.routes());
    router.get('/boom', () => {
      throw new Error('boom');
    });
    router.get('/async-boom', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('later');
    });
    router.get('/teapot', (ctx) => {
      ctx.status = 418;
      ctx.body = 'teapot';
    });
    router.get('/health', (ctx) => {
      ctx.body = 'ok';
    });
    router.get('/slow', async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      ctx.body = 'slow';
    });
    router.get('/stream', (ctx) => {
      ctx.type = 'text/plain';
      ctx.body = slowChunks(4, 60);
    });
    app.use(router.routes());
  }, options as never);
  return { port: served.port, close: served.close };
}

const adapter = {
  name: `koa${koaMajor}`,
  newRegistry: () => new Registry(),
  newGauge: (config) => void new Gauge({ ...config, registers: config.registers as Registry[] }),
  start: startStandardApp,
} satisfies AdapterUnderTest;

describeAdapterBehaviour(adapter);
describeAdapterGuarantees(adapter);
