// docker-compose.yml validates with Debian's docker-compose (v1: `config` needs no Docker engine), and every
// host path it mounts or builds from exists. CI installs docker-compose when the file exists (.ci/run).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './lib/stack.mjs';

const COMPOSE = process.env.DOCKER_COMPOSE_BIN ?? 'docker-compose';

function compose(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(COMPOSE, ['--file', join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(
          new Error(
            "docker-compose is not installed: run 'apt-get update && apt-get install -y docker-compose' " +
              '(or set DOCKER_COMPOSE_BIN)',
          ),
        );
        return;
      }
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('docker-compose.yml', () => {
  it('validates: docker-compose config -q', async () => {
    const { code, stdout, stderr } = await compose('config', '-q');
    expect(`${stdout}${stderr}`.trim()).toBe('');
    expect(code).toBe(0);
  });

  it('has the three services, Prometheus and Grafana, and every host path it mounts or builds from exists', async () => {
    // The normalized config: paths made absolute, one volume per line (`- /host/path:/container/path:ro`).
    const { code, stdout } = await compose('config');
    expect(code).toBe(0);
    const services = [...stdout.matchAll(/^ {2}([\w-]+):$/gm)].map((m) => m[1]);
    expect(services).toEqual(
      expect.arrayContaining(['express-service', 'fastify-service', 'nestjs-service', 'prometheus', 'grafana']),
    );

    const mounts = [...stdout.matchAll(/^\s+- (\/[^:\n]+):(\/[^:\n]+)(?::\w+)?$/gm)].map((m) => m[1] as string);
    expect(mounts.sort()).toEqual(
      [
        'examples/grafana/dashboards',
        'examples/grafana/provisioning',
        'examples/prometheus/prometheus.yml',
        'examples/prometheus/rules',
      ].map((p) => join(ROOT, p)),
    );
    for (const path of mounts) expect(existsSync(path), path).toBe(true);

    const contexts = [...stdout.matchAll(/^\s+context: (\S+)$/gm)].map((m) => m[1] as string);
    const dockerfiles = [...stdout.matchAll(/^\s+dockerfile: (\S+)$/gm)].map((m) => m[1] as string);
    expect(dockerfiles.sort()).toEqual([
      'examples/express-service/Dockerfile',
      'examples/fastify-service/Dockerfile',
      'examples/nestjs-service/Dockerfile',
    ]);
    for (const [i, context] of contexts.entries()) {
      expect(existsSync(join(context, dockerfiles[i] as string)), dockerfiles[i]).toBe(true);
      // The context is the workspace root: the lockfile the Dockerfiles install from is there.
      expect(existsSync(join(context, 'pnpm-lock.yaml'))).toBe(true);
    }
  });

  it('Prometheus scrapes, and Grafana queries, the compose services by their names and ports', async () => {
    const { stdout } = await compose('config');
    const services = [...stdout.matchAll(/^ {2}([\w-]+):$/gm)].map((m) => m[1]);
    const prometheusYml = await readFile(join(ROOT, 'examples/prometheus/prometheus.yml'), 'utf8');
    const targets = [...prometheusYml.matchAll(/targets: \[["']([^"']+)["']\]/g)].map((m) => m[1] as string);
    expect(targets.sort()).toEqual([
      'express-service:3000',
      'fastify-service:3000',
      'localhost:9090',
      'nestjs-service:3000',
    ]);
    for (const target of targets.filter((t) => !t.startsWith('localhost:'))) {
      expect(services).toContain(target.split(':')[0]);
    }
    // Each service listens on PORT=3000 inside the network.
    expect(stdout.match(/PORT: '3000'/g)?.length).toBe(3);
    const datasource = await readFile(join(ROOT, 'examples/grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    expect(datasource).toMatch(/url: http:\/\/prometheus:9090$/m);
    expect(services).toContain('prometheus');
  });

  it('mounts what Prometheus and Grafana load: the rules, provisioning and the dashboard', () => {
    for (const path of [
      'examples/prometheus/rules/recording.yml',
      'examples/prometheus/rules/alerts.yml',
      'examples/grafana/provisioning/datasources/prometheus.yml',
      'examples/grafana/provisioning/dashboards/routemeter.yml',
      'examples/grafana/dashboards/routemeter.json',
    ]) {
      expect(existsSync(join(ROOT, path)), path).toBe(true);
    }
  });
});
