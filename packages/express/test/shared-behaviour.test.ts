import { createServer } from 'node:http';
import { type ExpressRoutemeterOptions, routemeter } from '@routemeter/express';
import express from 'express';
import { Gauge, Registry } from 'prom-client';
import {
  type AdapterUnderTest,
  type BehaviourApp,
  type BehaviourOptions,
  describeAdapterBehaviour,
} from '../../../test-kit/behaviour.js';
import { describeAdapterGuarantees } from '../../../test-kit/guarantees.js';
import { close, listen, slowChunks } from '../../../test-kit/http.js';

const major =
  typeof (express.Router as unknown as { prototype?: { use?: unknown } }).prototype?.use === 'function' ? 5 : 4;

/** The standard route set of the shared behaviour table (test-kit/behaviour.ts), the Express way. */
async function startStandardApp(options: ExpressRoutemeterOptions): Promise<BehaviourApp> {
  const app = express();
  app.use(routemeter(options));
  app.get('/users/:id', (req, res) => {
    res.send(`user ${req.params.id}`);
  });
  app.post('/users', (_req, res) => {
    res.status(201).send('created');
  });
  const repos = express.Router();
  repos.get('/', (_req, res) => {
    res.send('repos');
  });
  repos.get('/:repo', (req, res) => {
    res.send(`repo ${req.params.repo}`);
  });
  app.use('/orgs/:org/repos', repos);
  app.get('/boom', () => {
    throw new Error('boom');
  });
  // Express 4 does not catch rejected promises; the handler passes the error on, as Express 4 apps must.
  app.get('/async-boom', (_req, _res, next) => {
    new Promise((_resolve, reject) => setTimeout(() => reject(new Error('later')), 5)).catch(next);
  });
  app.get('/teapot', (_req, res) => {
    res.status(418).send('teapot');
  });
  app.get('/health', (_req, res) => {
    res.send('ok');
  });
  app.get('/slow', (_req, res) => {
    setTimeout(() => res.send('slow'), 400);
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    slowChunks(4, 60).pipe(res);
  });
  // Errors are answered without logging them, to keep the test output readable.
  app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).send('Internal Server Error');
  });
  const server = createServer(app);
  const port = await listen(server);
  return { port, close: () => close(server) };
}

const adapter = {
  name: `express${major}`,
  newRegistry: () => new Registry(),
  newGauge: (config) => void new Gauge({ ...config, registers: config.registers as Registry[] }),
  start: (options: BehaviourOptions) => startStandardApp(options as unknown as ExpressRoutemeterOptions),
} satisfies AdapterUnderTest;

describeAdapterBehaviour(adapter);
describeAdapterGuarantees(adapter);
