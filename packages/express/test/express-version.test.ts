import express from 'express';
import { expect, it } from 'vitest';

// Guards the test setup itself: the express4 project must really run Express 4, and express5 Express 5.
it('runs against the Express major version the project is named after', ({ task }) => {
  const expected = Number(task.file.projectName?.replace('express', ''));
  const router = express.Router as unknown as { prototype?: { use?: unknown } };
  const major = typeof router.prototype?.use === 'function' ? 5 : 4;
  expect(major).toBe(expected);
});
