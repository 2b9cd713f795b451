import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createScrapeHandler } from '../src/adapter.js';
import { compileAuth } from '../src/auth.js';
import { failureReporter, quietLogger } from '../src/user-code.js';

afterEach(() => {
  vi.useRealTimers();
});

describe("the user's callbacks cannot take the app down", () => {
  it('reports a failing callback once, then at most once a minute with the count in between', () => {
    vi.useFakeTimers({ now: 0, toFake: ['Date'] });
    const messages: string[] = [];
    const report = failureReporter({ warn: (m) => messages.push(m) }, 'labels.tier');
    report('threw (a)');
    vi.setSystemTime(1_000);
    report('threw (b)');
    report('threw (c)');
    expect(messages).toEqual(['routemeter: `labels.tier` threw (a)']);
    vi.setSystemTime(61_000);
    report('threw (d)');
    vi.setSystemTime(62_000);
    report('threw (e)');
    vi.setSystemTime(200_000);
    report('threw (f)');
    expect(messages).toEqual([
      'routemeter: `labels.tier` threw (a)',
      'routemeter: `labels.tier` threw (d) (and 2 more times in the last minute)',
      'routemeter: `labels.tier` threw (f) (and 1 more time in the last minute)',
    ]);
  });

  it('swallows a logger that throws or rejects', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      quietLogger({
        warn() {
          throw new Error('logger down');
        },
      }).warn('x');
      quietLogger({ warn: () => Promise.reject(new Error('async logger down')) } as never).warn('y');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it.each<[string, (req: unknown) => unknown, string]>([
    [
      'throws',
      () => {
        throw new Error('auth down');
      },
      'threw (auth down); the scrape is refused',
    ],
    ['rejects', () => Promise.reject(new Error('auth async down')), 'threw (auth async down); the scrape is refused'],
    ['returns a truthy non-boolean', () => 'yes', 'returned string, not a boolean; the scrape is refused'],
    ['returns nothing', () => undefined, 'returned undefined, not a boolean; the scrape is refused'],
  ])('refuses the scrape (401) when the auth predicate %s, and says why', async (_case, predicate, problem) => {
    const messages: string[] = [];
    const logger = { warn: (m: string) => messages.push(m) };
    const scrape = createScrapeHandler(new Registry(), logger, compileAuth(predicate as () => boolean, logger));
    expect((await scrape(undefined, undefined, {})).status).toBe(401);
    expect(messages).toEqual([`routemeter: \`auth\` ${problem}`]);
  });
});
