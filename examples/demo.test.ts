// `npm run demo` itself, short: it prints the RED table for every service and every route, and any alerts,
// and leaves nothing running. Ctrl-C in the middle stops every child and frees every port. The cluster run has
// native histograms on, so the primary's merge of them is what Prometheus reads.
// `--from-source` runs the services on the TypeScript sources, so the test neither needs nor rebuilds dist/.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPECTED_ROUTES } from './expected-routes.js';
import { isListening, ROOT, SERVICES } from './lib/stack.mjs';

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the demo in its own process group (as a terminal would), so a test can Ctrl-C the whole group. */
function runDemo(...args: string[]): Run {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.mjs'), '--from-source', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  // Should an assertion fail while it runs, do not leave it behind.
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 110_000);
  exited.finally(() => clearTimeout(timer));
  return { child, output: () => output, exited };
}

/** Every 127.0.0.1 port the demo printed a URL for. */
const printedPorts = (output: string) => [...output.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));

describe('npm run demo', () => {
  it('--duration 5 prints the RED table of every service and every route, then stops everything', async () => {
    const run = runDemo('--duration', '5');
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);

    expect(output).toMatch(/^service\s+route\s+requests\s+req\/s\s+error %\s+p50 ms\s+p99 ms$/m);
    const number = String.raw`\d+(?:\.\d+)?`;
    for (const { job } of SERVICES) {
      for (const route of EXPECTED_ROUTES) {
        const row = new RegExp(
          `^${job}\\s+${route.replace(/[/.*]/g, '\\$&')}\\s+\\d+\\s+${number}\\s+${number}\\s+${number}\\s+${number}$`,
          'm',
        );
        expect(output, `${job} ${route}`).toMatch(row);
      }
    }
    // Only /orders fails; Prometheus counted every request the demo sent.
    const errorPercent = [...output.matchAll(/^(\S+-service)\s+(\S+)\s+\d+\s+\S+\s+(\S+)\s/gm)].map((m) => [
      m[2],
      Number(m[3]),
    ]);
    for (const [route, percent] of errorPercent) expect(percent === 0, `${route} ${percent}`).toBe(route !== '/orders');
    const counted = /Prometheus counted (\d+) requests; the demo sent (\d+), (\d+) answered/.exec(output);
    expect(counted, output).not.toBeNull();
    expect(counted?.[1]).toBe(counted?.[3]);
    expect(Number(counted?.[2])).toBeGreaterThan(100);
    expect(output).toMatch(/^Alerts/m);

    const ports = printedPorts(output);
    expect(ports.length).toBe(SERVICES.length + 1);
    for (const port of ports) expect(await isListening(port), `port ${port}`).toBe(false);
  }, 120_000);

  it('--cluster --native-histograms freezes one worker and kills another, and shows Prometheus saw no counter reset', async () => {
    const run = runDemo('--cluster', '--native-histograms', '--duration', '8');
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);
    expect(output).toContain('native histograms on');
    // The primary merged the workers' native histograms: Prometheus has percentiles for the clustered service.
    expect(output).toMatch(/^express-service\s+\/slow\s+\d+\s+\S+\s+\S+\s+\d+\.\d\s+\d+\.\d$/m);
    expect(output).toMatch(/worker \d+ \(pid \d+\) frozen with SIGSTOP for 2 s/);
    expect(output).toMatch(/worker \d+ \(pid \d+\) killed with SIGKILL/);
    expect(output).toContain(
      'Counter resets in http_requests_total: 0 (through the freeze, the kill and the restart).',
    );
    expect(output).toMatch(/Workers answering the primary: as few as 2 of 3/);
    expect(output).toMatch(/Worker \d+ was served stale in [1-9]\d* scrape\(s\)/);
    expect(output).toMatch(/Alert RoutemeterClusterWorkersNotAnswering: pending while it was frozen/);
    // All but what the killed worker served since its last answer (or served to a client that never got it).
    const counted = /Requests counted: (\d+) of the (\d+) express-service answered/.exec(output);
    expect(Math.abs(Number(counted?.[1]) / Number(counted?.[2]) - 1), output).toBeLessThan(0.1);
    const ports = printedPorts(output);
    expect(ports.length).toBe(SERVICES.length + 1);
    for (const port of ports) expect(await isListening(port), `port ${port}`).toBe(false);
  }, 120_000);

  it('Ctrl-C during the traffic stops the services and Prometheus, leaving no port bound', async () => {
    const run = runDemo('--duration', '60');
    const deadline = Date.now() + 60_000;
    while (!run.output().includes('> send traffic') && Date.now() < deadline && run.child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(run.output()).toContain('> send traffic');
    const ports = printedPorts(run.output());
    expect(ports.length).toBe(SERVICES.length + 1);
    const interrupted = Date.now();
    process.kill(-(run.child.pid as number), 'SIGINT'); // what a terminal's Ctrl-C does: the whole group
    const { code } = await run.exited;
    expect(Date.now() - interrupted).toBeLessThan(10_000);
    expect(code, run.output()).toBe(130);
    expect(run.output()).toContain('SIGINT: stopping');
    for (const port of ports) expect(await isListening(port), `port ${port}`).toBe(false);
  }, 120_000);
});
