import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createScrapeHandler } from '../src/adapter.js';
import { compileAuth } from '../src/auth.js';
import { type MetricsAuth, RoutemeterOptionError } from '../src/index.js';
import { resolveOptions } from '../src/options.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('who may read the metrics', () => {
  const auth = compileAuth<unknown>(
    {
      bearer: ['tok-1', 'tok-2'],
      basic: [{ username: 'prometheus', password: 's3cret:with:colons' }],
    },
    console,
  );

  it.each([
    ['Bearer tok-1', true],
    ['Bearer tok-2', true],
    ['bearer tok-2', true],
    ['Bearer tok-3', false],
    ['Bearer tok-1x', false],
    ['Bearer ', false],
    ['Bearer', false],
    [basic('prometheus', 's3cret:with:colons'), true],
    [basic('prometheus', 's3cret'), false],
    [basic('grafana', 's3cret:with:colons'), false],
    ['Basic !!!not-base64', false],
    ['Digest abc', false],
    ['tok-1', false],
    [undefined, false],
  ])('Authorization %j is allowed: %s', (header, allowed) => {
    expect(auth.authorize(header, {})).toBe(allowed);
  });

  it('challenges with every configured scheme', () => {
    expect(auth.challenge).toBe('Bearer realm="metrics", Basic realm="metrics", charset="UTF-8"');
    expect(compileAuth({ bearer: 't' }, console).challenge).toBe('Bearer realm="metrics"');
  });

  it('answers 401 with WWW-Authenticate and no hint of what was wrong', async () => {
    const scrape = createScrapeHandler(new Registry(), console, auth);
    const wrongToken = await scrape(undefined, 'Bearer nope');
    const wrongPassword = await scrape(undefined, basic('prometheus', 'nope'));
    const missing = await scrape(undefined, undefined);
    for (const reply of [wrongToken, wrongPassword, missing]) {
      expect(reply.status).toBe(401);
      expect(reply.body).toBe('Unauthorized\n');
      expect(reply.headers['WWW-Authenticate']).toBe(auth.challenge);
    }
    expect(wrongToken).toEqual(missing);
    expect((await scrape(undefined, 'Bearer tok-2')).status).toBe(200);
  });

  it('asks a predicate, which may be async, about the request', async () => {
    const scrape = createScrapeHandler<{ ip: string }>(
      new Registry(),
      console,
      compileAuth(async (req) => req.ip === '10.0.0.1', console),
    );
    expect((await scrape(undefined, undefined, { ip: '10.0.0.1' })).status).toBe(200);
    const denied = await scrape(undefined, undefined, { ip: '10.0.0.2' });
    expect(denied.status).toBe(401);
    expect(denied.headers['WWW-Authenticate']).toBeUndefined();
  });

  it.each<[unknown, RegExp]>([
    [{}, /must set bearer and\/or basic/],
    [{ bearer: '' }, /\.bearer must be non-empty strings without spaces/],
    [{ bearer: [] }, /\.bearer must hold at least one token/],
    [{ bearer: 'two words' }, /without spaces/],
    [{ basic: { username: 'a' } }, /\.basic must be \{ username, password \} strings/],
    [{ basic: { username: 'a:b', password: 'c' } }, /no ":" in the username/],
    [{ token: 'x' }, /unknown key 'token'/],
    ['secret', /must be \{ bearer\?, basic\? \} or a function, got "secret"/],
  ])('rejects auth = %j at creation', (value, message) => {
    const attempt = () => resolveOptions({ auth: value as MetricsAuth<unknown> });
    expect(attempt).toThrow(RoutemeterOptionError);
    expect(attempt).toThrow(/^routemeter: option `auth` /);
    expect(attempt).toThrow(message);
  });
});
