import { expect, it } from 'vitest';
import { koaMajor } from './serve.js';

// Guards the test setup itself: the koa2 project must really run Koa 2, and koa3 Koa 3.
it('runs against the Koa major version the project is named after', ({ task }) => {
  expect(koaMajor).toBe(Number(task.file.projectName?.replace('koa', '')));
});
