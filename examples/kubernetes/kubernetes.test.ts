// The Kubernetes example, validated offline: every manifest against the Kubernetes and Prometheus Operator
// schemas (kubernetes-models), the references between them that no schema sees, the Prometheus configs with
// promtool, and the plain config's relabeling for real — a real Prometheus discovering the example services as
// "pods" (file discovery carrying the labels Kubernetes discovery would), scraping them with the Secret's token,
// and the per-service recording rules summing them.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { eventually, send } from '../../test-kit/http.ts';
import { EXAMPLES, freePort, ROOT, RULES_DIR, SERVICES, startPrometheus, startService } from '../lib/stack.mjs';

const DIR = join(EXAMPLES, 'kubernetes');
const NAMESPACE = 'routemeter-example';
const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool';

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by their schema, then read as plain data
type Manifest = Record<string, any>;

/**
 * The schema of each kind the example uses, by `apiVersion/kind`. A manifest of any other kind fails the test.
 * Each constructor takes its kind's own shape (`never` admits them all): the parsed YAML is checked at run time.
 */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/**
 * Throws, naming the field, when the manifest does not match its kind's schema. Like the API server's, the schemas
 * let unknown fields through (the server drops them with a warning), so the test of the references between the
 * manifests pins every field the example depends on.
 */
function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (Model === undefined) throw new Error(`no schema for apiVersion ${manifest.apiVersion} kind ${manifest.kind}`);
  new Model(manifest as never).validate();
}

/** Every document of a multi-document YAML text; a syntax error throws. */
function parseManifests(text: string, file: string): Manifest[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return doc.toJS() as Manifest;
  });
}

/** The manifests: every .yaml file in examples/kubernetes (the Prometheus configs are .yml). */
async function loadManifests(): Promise<{ file: string; manifest: Manifest }[]> {
  const files = (await readdir(DIR, { recursive: true }))
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('node_modules'))
    .sort();
  const all = [];
  for (const file of files) {
    for (const manifest of parseManifests(await readFile(join(DIR, file), 'utf8'), file)) all.push({ file, manifest });
  }
  return all;
}

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, args, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error("promtool is not installed: run 'apt-get install -y prometheus' (or set PROMTOOL_BIN)"));
        return;
      }
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const PLAIN_CONFIG = join(DIR, 'prometheus', 'prometheus.yml');
const DISCOVERY = `    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [routemeter-example]
`;
const TOKEN_FILE = '/etc/prometheus/secrets/routemeter-metrics-token/token';

/**
 * The plain config for this machine: Debian's Prometheus is built without Kubernetes discovery, so the pod
 * discovery becomes file discovery of `podsFile` (whose targets carry the same `__meta_kubernetes_*` labels);
 * the token is read from `tokenFile`; with `interval`, everything runs at that interval, and with `rulesDir`
 * the rules are read from there rather than from rules/ beside the config. The rest is the file as committed.
 */
function renderPlainConfig(
  text: string,
  {
    podsFile,
    tokenFile,
    interval,
    rulesDir,
  }: { podsFile: string; tokenFile: string; interval?: string; rulesDir?: string },
): string {
  const replace = (from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`${PLAIN_CONFIG} no longer contains ${JSON.stringify(from)}`);
    text = text.replaceAll(from, to);
  };
  replace(DISCOVERY, `    file_sd_configs:\n      - files: [${podsFile}]\n`);
  replace(TOKEN_FILE, tokenFile);
  if (rulesDir !== undefined) replace('- rules/*.yml', `- ${join(rulesDir, '*.yml')}`);
  if (interval !== undefined) {
    replace('scrape_interval: 15s', `scrape_interval: ${interval}`);
    replace('scrape_timeout: 10s', `scrape_timeout: ${interval}`);
    replace('evaluation_interval: 15s', `evaluation_interval: ${interval}`);
  }
  return text;
}

/** A scratch folder laid out like the Prometheus pod's /etc/prometheus: the config, rules/, the token file. */
async function scratchPrometheusDir(token: string) {
  const dir = await mkdtemp(join(tmpdir(), 'routemeter-k8s-'));
  await symlink(RULES_DIR, join(dir, 'rules'));
  await writeFile(join(dir, 'token'), token);
  return { dir, podsFile: join(dir, 'pods.json'), tokenFile: join(dir, 'token') };
}

const kindsOf = (all: { manifest: Manifest }[], kind: string) =>
  all.map((m) => m.manifest).filter((m) => m.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('examples/kubernetes manifests', () => {
  it('every manifest is one of the expected kinds and valid against its Kubernetes or operator schema', async () => {
    const all = await loadManifests();
    expect(all.map(({ file, manifest }) => `${file} ${manifest.kind}/${manifest.metadata.name}`)).toEqual([
      'metrics-token.yaml Secret/routemeter-metrics-token',
      'namespace.yaml Namespace/routemeter-example',
      'operator/podmonitor.yaml PodMonitor/routemeter-example',
      'operator/servicemonitor.yaml ServiceMonitor/routemeter-example',
      'prometheus/rbac.yaml ServiceAccount/prometheus-routemeter-example',
      'prometheus/rbac.yaml Role/prometheus-discovery',
      'prometheus/rbac.yaml RoleBinding/prometheus-discovery',
      'services.yaml Deployment/express-service',
      'services.yaml Service/express-service',
      'services.yaml Deployment/fastify-service',
      'services.yaml Service/fastify-service',
      'services.yaml Deployment/nestjs-service',
      'services.yaml Service/nestjs-service',
    ]);
    for (const { file, manifest } of all) expect(() => validate(manifest), file).not.toThrow();
  });

  it('a broken manifest is rejected, naming what is wrong', async () => {
    const all = await loadManifests();
    const first = (kind: string) => structuredClone(kindsOf(all, kind)[0] as Manifest);

    const portAsText = first('Deployment');
    portAsText.spec.template.spec.containers[0].ports[0].containerPort = '3000';
    expect(() => validate(portAsText)).toThrow(/containers\/0\/ports\/0\/containerPort must be integer/);

    const noSelector = first('Deployment');
    delete noSelector.spec.selector;
    expect(() => validate(noSelector)).toThrow(/spec must have required property selector/);

    const badProbe = first('Deployment');
    badProbe.spec.template.spec.containers[0].readinessProbe.periodSeconds = 'often';
    expect(() => validate(badProbe)).toThrow(/readinessProbe\/periodSeconds must be integer/);

    const badInterval = first('ServiceMonitor');
    badInterval.spec.endpoints[0].interval = '15 seconds';
    expect(() => validate(badInterval)).toThrow(/endpoints\/0\/interval must match pattern/);

    const badAuth = first('PodMonitor');
    badAuth.spec.podMetricsEndpoints[0].authorization.credentials = 'the-token';
    expect(() => validate(badAuth)).toThrow(/podMetricsEndpoints\/0\/authorization\/credentials must be object/);

    const noServicePort = first('Service');
    delete noServicePort.spec.ports[0].port;
    expect(() => validate(noServicePort)).toThrow(/spec\/ports\/0 must have required property port/);

    const lowerCaseProtocol = first('Service');
    lowerCaseProtocol.spec.ports[0].protocol = 'tcp';
    expect(() => validate(lowerCaseProtocol)).toThrow(/ports\/0\/protocol must be equal to one of the allowed values/);

    expect(() => validate({ ...first('Deployment'), kind: 'Deploymnet' })).toThrow(/no schema for .* Deploymnet/);
    expect(() => parseManifests('kind: Service\n  metadata: {', 'broken.yaml')).toThrow(/broken\.yaml/);
  });

  it('the manifests agree with each other: names, labels, ports, paths, the Secret and the images', async () => {
    const all = await loadManifests();
    for (const { manifest } of all) {
      if (manifest.kind !== 'Namespace') expect(manifest.metadata.namespace, manifest.metadata.name).toBe(NAMESPACE);
    }
    const secret = kindsOf(all, 'Secret')[0] as Manifest;
    const secretRef = { name: secret.metadata.name, key: Object.keys(secret.stringData)[0] };
    expect(secretRef).toEqual({ name: 'routemeter-metrics-token', key: 'token' });

    const compose = parse(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8'));
    const deployments = kindsOf(all, 'Deployment');
    const services = kindsOf(all, 'Service');
    expect(deployments.map((d) => d.metadata.name)).toEqual(SERVICES.map((s) => s.job));
    for (const deployment of deployments) {
      const { name } = deployment.metadata;
      const pod = deployment.spec.template;
      const [container, ...others] = pod.spec.containers;
      expect(others).toEqual([]);
      expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels), name).toBe(true);
      // The image docker-compose.yml builds, on the port the service listens on.
      expect(container.image).toBe(`${compose.services[name].image}:latest`);
      const env = Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
      expect(env).toEqual({
        HOST: '0.0.0.0',
        PORT: '3000',
        METRICS_TOKEN: { secretKeyRef: { ...secretRef, optional: true } },
      });
      expect(container.ports).toEqual([{ name: 'http', containerPort: Number(env.PORT) }]);
      // The annotations the plain Prometheus config reads.
      expect(pod.metadata.annotations).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': env.PORT,
        'prometheus.io/path': '/metrics',
      });
      // The Service selects exactly this Deployment's pods, and its port is the container's, by name.
      const service = services.find((s) => s.metadata.name === name) as Manifest;
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports).toEqual([{ name: 'http', port: 3000, targetPort: 'http' }]);
    }

    const [serviceMonitor] = kindsOf(all, 'ServiceMonitor') as [Manifest];
    const selectedServices = services.filter((s) =>
      matches(serviceMonitor.spec.selector.matchLabels, s.metadata.labels),
    );
    expect(selectedServices.map((s) => s.metadata.name)).toEqual(SERVICES.map((s) => s.job));
    const [podMonitor] = kindsOf(all, 'PodMonitor') as [Manifest];
    const selectedPods = deployments.filter((d) =>
      matches(podMonitor.spec.selector.matchLabels, d.spec.template.metadata.labels),
    );
    expect(selectedPods.map((d) => d.metadata.name)).toEqual(SERVICES.map((s) => s.job));
    // Both scrape the port named http at /metrics, with the Secret's token.
    for (const endpoint of [...serviceMonitor.spec.endpoints, ...podMonitor.spec.podMetricsEndpoints]) {
      expect(endpoint).toMatchObject({
        port: 'http',
        path: '/metrics',
        authorization: { type: 'Bearer', credentials: secretRef },
      });
    }
    // The PodMonitor's `job` and `service` are the app's name, as the ServiceMonitor's are the Service's.
    expect(podMonitor.spec.jobLabel).toBe('app.kubernetes.io/name');
    expect(podMonitor.spec.podMetricsEndpoints[0].relabelings).toEqual([
      { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], targetLabel: 'service' },
    ]);

    // The plain Prometheus may list and watch pods here, and nothing more.
    const [account] = kindsOf(all, 'ServiceAccount') as [Manifest];
    const [role] = kindsOf(all, 'Role') as [Manifest];
    const [binding] = kindsOf(all, 'RoleBinding') as [Manifest];
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: NAMESPACE }]);
  });
});

describe('examples/kubernetes Prometheus configs', () => {
  it('the plain config passes promtool check config, with the example rules and the token file', async () => {
    const text = await readFile(PLAIN_CONFIG, 'utf8');
    const scratch = await scratchPrometheusDir('a-token');
    try {
      // As committed: where promtool has Kubernetes discovery it must pass; Debian's has none (its only complaint).
      await writeFile(join(scratch.dir, 'as-committed.yml'), text);
      const committed = await promtool('check', 'config', join(scratch.dir, 'as-committed.yml'));
      if (committed.code !== 0) expect(committed.output).toMatch(/field kubernetes_sd_configs not found/);

      await writeFile(join(scratch.dir, 'prometheus.yml'), renderPlainConfig(text, scratch));
      const { code, output } = await promtool('check', 'config', join(scratch.dir, 'prometheus.yml'));
      expect(output).toContain('is valid prometheus config file syntax');
      expect(output).toMatch(/rules\/alerts\.yml[\s\S]*SUCCESS: 4 rules found/);
      expect(output).toMatch(/rules\/recording\.yml[\s\S]*SUCCESS: 9 rules found/);
      expect(code, output).toBe(0);

      // And promtool does reject a broken relabeling: a regex that does not compile.
      const broken = renderPlainConfig(text, scratch).replace('regex: Succeeded|Failed', 'regex: Succeeded|(Failed');
      await writeFile(join(scratch.dir, 'broken.yml'), broken);
      const rejected = await promtool('check', 'config', join(scratch.dir, 'broken.yml'));
      expect(rejected.output).toMatch(/FAILED.*error parsing regexp/);
      expect(rejected.code).toBe(1);
    } finally {
      await rm(scratch.dir, { recursive: true, force: true });
    }
  });

  it('the long-term store configs (remote_write, federation) pass promtool check config', async () => {
    for (const file of ['remote-write.yml', 'federate.yml']) {
      const { code, output } = await promtool('check', 'config', join(DIR, 'prometheus', file));
      expect(output).toContain(`SUCCESS: ${join(DIR, 'prometheus', file)} is valid prometheus config file syntax`);
      expect(code, output).toBe(0);
    }
  });
});

describe('the plain config, running: pods found by annotation, relabeled, scraped with the token', () => {
  type Running = Awaited<ReturnType<typeof startService>>;
  type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;
  const token = 'k8s-example-token-0123456789';
  const pods: { name: string; service: string; running: Running }[] = [];
  let prometheus: Prometheus;
  let scratch: Awaited<ReturnType<typeof scratchPrometheusDir>>;

  /** The labels Kubernetes pod discovery gives a container port of a pod of `service` (or of another app). */
  const discovered = (pod: Manifest, name: string, port: number, extra: Record<string, string> = {}) => ({
    targets: ['127.0.0.1:3000'],
    labels: {
      __meta_kubernetes_namespace: NAMESPACE,
      __meta_kubernetes_pod_name: name,
      __meta_kubernetes_pod_ip: '127.0.0.1',
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_container_name: pod.spec.containers[0].name,
      __meta_kubernetes_pod_container_init: 'false',
      ...Object.fromEntries(
        Object.entries(pod.metadata.labels as Record<string, string>).map(([k, v]) => [
          `__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`,
          v,
        ]),
      ),
      ...Object.fromEntries(
        Object.entries((pod.metadata.annotations ?? {}) as Record<string, string>).map(([k, v]) => [
          `__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`,
          k === 'prometheus.io/port' ? String(port) : v,
        ]),
      ),
      ...extra,
    },
  });

  beforeAll(async () => {
    const all = await loadManifests();
    const secret = kindsOf(all, 'Secret')[0] as Manifest;
    expect(secret.stringData.token).toBeTypeOf('string');
    const templates = Object.fromEntries(kindsOf(all, 'Deployment').map((d) => [d.metadata.name, d.spec.template]));
    // Two pods of express-service, one of fastify-service, each with auth on (METRICS_TOKEN, as from the Secret).
    for (const [service, name] of [
      ['express-service', 'express-service-5d8f9-a1'],
      ['express-service', 'express-service-5d8f9-b2'],
      ['fastify-service', 'fastify-service-6c7b8-x9'],
    ] as const) {
      const definition = SERVICES.find((s) => s.job === service) as (typeof SERVICES)[number];
      const running = await startService(definition, {
        port: await freePort(),
        source: true,
        env: { METRICS_TOKEN: token, FAIL_RATE: '0' },
      });
      pods.push({ name, service, running });
    }
    scratch = await scratchPrometheusDir(token);
    const express = templates['express-service'] as Manifest;
    const unannotated = { ...express, metadata: { ...express.metadata, annotations: {} } };
    const targets = [
      ...pods.map(({ name, service, running }) => discovered(templates[service], name, running.port)),
      // Pod a again, through a second declared container port (a debugger's): the same target once relabeled.
      {
        ...discovered(express, 'express-service-5d8f9-a1', pods[0]?.running.port as number),
        targets: ['127.0.0.1:9229'],
      },
      // Not scraped: a pod that does not ask to be, a finished one, and an init container of a scraped pod.
      discovered(unannotated, 'other-app-1', pods[0]?.running.port as number),
      discovered(express, 'express-service-job-z', pods[0]?.running.port as number, {
        __meta_kubernetes_pod_phase: 'Succeeded',
      }),
      discovered(express, 'express-service-5d8f9-a1', pods[0]?.running.port as number, {
        __meta_kubernetes_pod_container_name: 'migrate',
        __meta_kubernetes_pod_container_init: 'true',
      }),
    ];
    await writeFile(scratch.podsFile, JSON.stringify(targets));
    const text = await readFile(PLAIN_CONFIG, 'utf8');
    const config = renderPlainConfig(text, { ...scratch, interval: '500ms', rulesDir: RULES_DIR });
    prometheus = await startPrometheus({ ports: {}, config });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all(pods.map((p) => p.running.stop()));
    if (scratch !== undefined) await rm(scratch.dir, { recursive: true, force: true });
  }, 30_000);

  it('without the token a pod answers 401, so a healthy target means the token file was sent', async () => {
    const port = pods[0]?.running.port as number;
    expect((await send(port, '/metrics')).status).toBe(401);
    expect((await send(port, '/metrics', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('keeps only the annotated, running app containers: one target per pod, labelled as the operator would', async () => {
    const { activeTargets, droppedTargets } = await eventually(async () => {
      const targets = await prometheus.api('/api/v1/targets');
      for (const t of targets.activeTargets) if (t.health !== 'up') throw new Error(`${t.scrapeUrl}: ${t.lastError}`);
      if (targets.activeTargets.length !== pods.length) throw new Error('not every pod discovered yet');
      return targets;
    }, 20_000);
    expect(activeTargets.map((t: Manifest) => ({ ...t.labels, url: t.scrapeUrl }))).toEqual(
      expect.arrayContaining(
        pods.map(({ name, service, running }) => ({
          job: service,
          service,
          namespace: NAMESPACE,
          pod: name,
          container: service,
          instance: `127.0.0.1:${running.port}`,
          url: `http://127.0.0.1:${running.port}/metrics`,
        })),
      ),
    );
    expect(droppedTargets.length).toBe(3);
  });

  it('the per-service rules sum the pods by route, and the pod variable lists the pods', async () => {
    const sent: Record<string, number> = {};
    const traffic = async (perPod: (i: number) => number) => {
      for (const [i, { service, running }] of pods.entries()) {
        for (let n = 0; n < perPod(i); n++) expect((await send(running.port, `/users/${n}`)).status).toBe(200);
        sent[service] = (sent[service] ?? 0) + perPod(i);
      }
    };
    const perService = async (expr: string) =>
      Object.fromEntries(
        (await prometheus.query(expr)).map((s: Manifest) => [`${s.metric.service} ${s.metric.route}`, s.value[1]]),
      );
    // A series starts at its first request: scraped once before the rest, so that rate() sees them come.
    await traffic(() => 1);
    await eventually(async () => {
      expect((await prometheus.query('http_requests_total{route="/users/:id"}')).length).toBe(pods.length);
    }, 20_000);
    await traffic((i) => 10 + i * 5);
    const since = Date.now();
    await eventually(async () => {
      const { groups } = await prometheus.api('/api/v1/rules');
      if (!groups.every((g: Manifest) => Date.parse(g.lastEvaluation) > since + 1000)) throw new Error('not yet');
      const counts = await perService('sum by (service, route) (http_requests_total{route="/users/:id"})');
      expect(counts).toEqual({
        'express-service /users/:id': String(sent['express-service']),
        'fastify-service /users/:id': String(sent['fastify-service']),
      });
    }, 20_000);
    const rates = await perService('service_route:http_requests:rate1m{route="/users/:id"}');
    expect(Object.keys(rates).sort()).toEqual(['express-service /users/:id', 'fastify-service /users/:id']);
    for (const rate of Object.values(rates)) expect(Number(rate)).toBeGreaterThan(0);
    expect(await perService('service_route:http_request_errors:ratio_rate1m{route="/users/:id"}')).toEqual({
      'express-service /users/:id': '0',
      'fastify-service /users/:id': '0',
    });

    const dashboard = JSON.parse(await readFile(join(EXAMPLES, 'grafana', 'dashboards', 'routemeter.json'), 'utf8'));
    const podVariable = dashboard.templating.list.find((v: Manifest) => v.name === 'pod');
    const [, selector] = /^label_values\((.*), pod\)$/.exec(podVariable.query) as unknown as [string, string];
    const match = encodeURIComponent(selector.replace('$job', '.+'));
    expect(await prometheus.api(`/api/v1/label/pod/values?match[]=${match}`)).toEqual(pods.map((p) => p.name).sort());
  });

  it('serves what docs/scale.md budgets: 18 series per (route, method, status code), ~85 process series', async () => {
    const metrics = await send(pods[0]?.running.port as number, '/metrics', {
      headers: { authorization: `Bearer ${token}` },
    });
    // After the per-service test's traffic: pod a has answered GET /users/:id with 200.
    const samples = metrics.body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    const labelSet = 'method="GET",route="/users/:id",status_code="200"';
    const ofLabelSet = samples.filter((line) => line.startsWith('http_request') && line.includes(labelSet));
    expect(ofLabelSet.length).toBe(18);
    const processSeries = samples.filter((line) => /^(process|nodejs)_/.test(line)).length;
    expect(processSeries).toBeGreaterThanOrEqual(70);
    expect(processSeries).toBeLessThanOrEqual(100);
  });
});
