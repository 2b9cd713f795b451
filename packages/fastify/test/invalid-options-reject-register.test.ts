import { RoutemeterOptionError, routemeter } from '@routemeter/fastify';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

// Regression: core throws RoutemeterOptionError synchronously; thrown from a callback plugin it escaped
// avvio, so `await app.register(routemeter, badOptions)` hung until "Plugin did not start in time" and the
// error surfaced as an unhandled exception. The plugin now hands it to `done(error)`.
describe('options are validated when the plugin registers', () => {
  it.each([
    [{ buckets: [1, 0.5] }, 'buckets', 'must be strictly increasing, but 0.5 follows 1'],
    [{ metricsPath: 'metrics' }, 'metricsPath', "must be a path starting with '/'"],
    [{ requestsInFlght: true }, 'requestsInFlght', 'is not an option; did you mean `requestsInFlight`?'],
    [{ statusCode: 'grouped' }, 'statusCode', "must be one of 'exact', 'class', got \"grouped\""],
  ])('rejects %j naming the option', async (options, option, problem) => {
    const app = Fastify();
    const error = await app.register(routemeter, { registry: new Registry(), ...(options as object) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RoutemeterOptionError);
    expect((error as RoutemeterOptionError).option).toBe(option);
    expect((error as Error).message).toContain(`routemeter: option \`${option}\` ${problem}`);
    await app.close().catch(() => {});
  });
});
