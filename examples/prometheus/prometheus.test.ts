// The Prometheus configuration and rules pass promtool: `check config` (which also checks the rule files it
// loads), `check rules`, and the rule unit tests in tests/*.yml (each alert fires on bad series, not on good).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, renderPrometheusConfig } from '../lib/stack.mjs';

const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool';
const dir = join(EXAMPLES, 'prometheus');

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, args, { cwd: dir }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error("promtool is not installed: run 'apt-get install -y prometheus' (or set PROMTOOL_BIN)"));
        return;
      }
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const yamlFiles = async (sub: string) =>
  (await readdir(join(dir, sub))).filter((f) => f.endsWith('.yml')).map((f) => join(sub, f));

describe('examples/prometheus', () => {
  it('promtool check config passes, with both rule files loaded', async () => {
    const { code, output } = await promtool('check', 'config', 'prometheus.yml');
    expect(output).toContain('SUCCESS: prometheus.yml is valid prometheus config file syntax');
    expect(output).toMatch(/rules\/alerts\.yml[\s\S]*SUCCESS: 4 rules found/);
    expect(output).toMatch(/rules\/recording\.yml[\s\S]*SUCCESS: 9 rules found/);
    expect(code, output).toBe(0);
  });

  it('the copy the demo and tests render (127.0.0.1 ports, absolute rule path) passes too', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'routemeter-promcfg-'));
    try {
      const text = await renderPrometheusConfig({
        prometheusPort: 9999,
        ports: { 'express-service': 3001, 'fastify-service': 3002, 'nestjs-service': 3003 },
      });
      expect(text).toContain('127.0.0.1:3001');
      expect(text).not.toContain('-service:3000');
      await writeFile(join(tmp, 'prometheus.yml'), text);
      const { code, output } = await promtool('check', 'config', join(tmp, 'prometheus.yml'));
      expect(output).toContain('SUCCESS: 4 rules found');
      expect(code, output).toBe(0);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('promtool check rules passes on every rule file', async () => {
    const files = await yamlFiles('rules');
    expect(files.sort()).toEqual(['rules/alerts.yml', 'rules/recording.yml']);
    const { code, output } = await promtool('check', 'rules', ...files);
    expect(code, output).toBe(0);
  });

  it('promtool test rules passes: each alert fires on bad series and stays quiet on good ones', async () => {
    const files = await yamlFiles('tests');
    expect(files.length).toBeGreaterThan(0);
    const { code, output } = await promtool('test', 'rules', ...files);
    expect(output).toContain('SUCCESS');
    expect(code, output).toBe(0);
  });

  it('the unit tests cover every alert both ways: firing, and quiet', async () => {
    const rules = await readFile(join(dir, 'rules', 'alerts.yml'), 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
    expect(alerts.length).toBe(4);
    const tests = (await Promise.all((await yamlFiles('tests')).map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
    // Each alert_rule_test case: its alertname, then either `exp_alerts: []` or a list of expected alerts.
    const cases = [...tests.matchAll(/- alertname: (\w+)\n\s+eval_time: \S+\n\s+exp_alerts:( \[\])?/g)];
    for (const alert of alerts) {
      const mine = cases.filter((c) => c[1] === alert);
      expect({ alert, quiet: mine.some((c) => c[2] !== undefined) }).toEqual({ alert, quiet: true });
      expect({ alert, fires: mine.some((c) => c[2] === undefined) }).toEqual({ alert, fires: true });
    }
  });
});
