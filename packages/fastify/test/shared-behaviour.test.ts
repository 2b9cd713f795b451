import type { FastifyRoutemeterOptions } from '@routemeter/fastify';
import Fastify from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type AdapterUnderTest, type BehaviourOptions, describeAdapterBehaviour } from '../../../test-kit/behaviour.js';
import { describeAdapterGuarantees } from '../../../test-kit/guarantees.js';
import { startStandardApp } from './serve.js';

const major = Number(Fastify().version.split('.')[0]);

// Guards the test setup itself: the fastify4 project must really run Fastify 4, and fastify5 Fastify 5.
describe('the Fastify under test', () => {
  it('is the major version the project is named after', ({ task }) => {
    expect(`fastify${major}`).toBe(task.file.projectName);
  });
});

const adapter = {
  name: `fastify${major}`,
  newRegistry: () => new Registry(),
  newGauge: (config) => void new Gauge({ ...config, registers: config.registers as Registry[] }),
  start: (options: BehaviourOptions) => startStandardApp(options as unknown as FastifyRoutemeterOptions),
} satisfies AdapterUnderTest;

describeAdapterBehaviour(adapter);
describeAdapterGuarantees(adapter);
