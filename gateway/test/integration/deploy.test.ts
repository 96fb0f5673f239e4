/**
 * The deploy/ files, tested for what can be tested here: promtool checks and rule unit tests, a real
 * Prometheus scraping a running gateway, every metric a dashboard panel or alert queries existing in
 * /metrics, and the compose file and Kubernetes manifests agreeing with the gateway and each other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { restrictedViolations } from '../helpers/pod-security.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/free-port.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

function promtool(...args: string[]): { status: number | null; output: string } {
  return promtoolWithInput(undefined, ...args);
}

function promtoolWithInput(input: string | undefined, ...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8', input });
  if (result.error) throw new Error(`promtool is not installed (npm test installs it): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({
    providers: { sim: { type: 'mock' } },
    routes: {
      chat: { targets: [{ provider: 'sim', model: 'mock-1' }] },
      split: { strategy: 'canary', canaryWeight: 10, baseline: { provider: 'sim', model: 'mock-1' }, canary: { provider: 'sim', model: 'mock-2' } },
    },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-deploy-')) },
  });
});
afterAll(async () => {
  await gateway?.close();
});

describe('prometheus files', () => {
  it('promtool accepts the config and the rules, and the rule unit tests pass', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-promtool-'));
    const config = read('deploy/prometheus/prometheus.yml').replace('/etc/prometheus/alerts.yml', join(DEPLOY, 'prometheus/alerts.yml'));
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const checkConfig = promtool('check', 'config', join(dir, 'prometheus.yml'));
    expect(checkConfig.status, checkConfig.output).toBe(0);
    const checkRules = promtool('check', 'rules', 'alerts.yml');
    expect(checkRules.status, checkRules.output).toBe(0);
    expect(checkRules.output).toContain('9 rules found');
    const tests = promtool('test', 'rules', 'tests/alerts.test.yml');
    expect(tests.status, tests.output).toBe(0);
  });

  it("promtool's lint finds nothing to say about /metrics (no gauges named like counters)", async () => {
    for (const stream of [false, true]) {
      await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'split', stream, messages: [{ role: 'user', content: 'hi' }] }) });
    }
    const text = await (await fetch(`${gateway.origin}/metrics`)).text();
    const lint = promtoolWithInput(text, 'check', 'metrics');
    expect(lint.output).toBe('');
    expect(lint.status).toBe(0);
  });

  it('a real Prometheus scrapes the gateway and sees its traffic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-prometheus-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: gateway\n    static_configs:\n      - targets: ["${new URL(gateway.origin).host}"]\n`,
    );
    let prometheus: ChildProcess | undefined;
    try {
      prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
      prometheus.on('error', () => undefined);
      for (let i = 0; i < 7; i++) {
        await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
      }
      let value = 0;
      for (let i = 0; i < 100 && value < 7; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        try {
          const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('sum(gateway_requests_total{route="chat"})')}`);
          const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
          value = Number(body.data.result[0]?.value[1] ?? 0);
        } catch {
          // not up yet
        }
      }
      expect(value).toBe(7);
    } finally {
      prometheus?.kill('SIGKILL');
    }
  }, 30_000);
});

/** Metric names a PromQL expression reads, with histogram suffixes folded into their family. */
function metricNames(expression: string): string[] {
  return [...expression.matchAll(/\b(gateway_[a-z0-9_]+|process_[a-z0-9_]+)\b/g)].map((m) => (m[1] as string).replace(/_(bucket|count|sum)$/, ''));
}

describe('dashboards and alerts cannot rot', () => {
  it('every metric a Grafana panel or an alert rule queries exists in /metrics', async () => {
    const exposed = new Set(
      [...(await (await fetch(`${gateway.origin}/metrics`)).text()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] as string),
    );
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/llm-gateway.json')) as { panels: { targets: { expr?: string }[] }[] };
    const expressions = dashboard.panels.flatMap((panel) => panel.targets.map((t) => t.expr).filter((e): e is string => Boolean(e)));
    const rules = (parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.expr));
    const wanted = new Set([...expressions, ...rules].flatMap(metricNames));
    expect(wanted.size).toBeGreaterThan(15);
    const missing = [...wanted].filter((name) => !exposed.has(name));
    expect(missing).toEqual([]);
  });

  it('failure rates everywhere use the one definition of a failed request (outcome="failure"), not the status class', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/llm-gateway.json')) as { panels: { title: string; targets: { expr?: string }[] }[] };
    const rules = (parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const expressions = [...dashboard.panels.flatMap((panel) => panel.targets.map((t) => t.expr ?? '')), ...rules.map((rule) => rule.expr)];
    expect(expressions.filter((expr) => expr.includes('status_class="5xx"'))).toEqual([]);
    expect(rules.find((rule) => rule.alert === 'GatewayHighErrorRate')?.expr).toContain('gateway_requests_total{outcome="failure"}');
    const panel = dashboard.panels.find((p) => /failure rate/i.test(p.title));
    expect(panel?.targets[0]?.expr).toContain('gateway_requests_total{outcome="failure"}');
  });

  it('the Grafana provisioning names the datasource uids the dashboard uses', () => {
    const datasources = parseYaml(read('deploy/grafana/provisioning/datasources/datasources.yml')) as { datasources: { uid: string; type: string }[] };
    const uids = new Set(datasources.datasources.map((d) => d.uid));
    const dashboard = read('deploy/grafana/dashboards/llm-gateway.json');
    for (const [, uid] of dashboard.matchAll(/"uid": "([a-z-]+)"/g)) if (uid !== 'llm-gateway') expect(uids).toContain(uid);
    const provider = parseYaml(read('deploy/grafana/provisioning/dashboards/dashboards.yml')) as { providers: { options: { path: string } }[] };
    const compose = parseYaml(read('deploy/docker-compose.yml')) as { services: Record<string, { volumes?: string[] }> };
    expect(compose.services.grafana?.volumes).toContain(`./grafana/dashboards:${provider.providers[0]!.options.path}:ro`);
  });
});

type ComposeService = {
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
};
const composeText = read('deploy/docker-compose.yml');
const compose = parseYaml(composeText) as { services: Record<string, ComposeService> };
const MANIFEST_FILES = ['deployment.yaml', 'pdb.yaml', 'service.yaml', 'hpa.yaml', 'configmap.yaml', 'secret.example.yaml'];
const manifests = MANIFEST_FILES.flatMap((file) => parseAllDocuments(read(`deploy/kubernetes/${file}`)).map((doc) => doc.toJS() as Record<string, any>));
const byKind = (kind: string): Record<string, any> => manifests.find((m) => m.kind === kind)!;
const version = (JSON.parse(read('package.json')) as { version: string }).version;
const env = {
  OPENAI_API_KEY: 'sk-x', GATEWAY_ADMIN_KEY: 'a'.repeat(24), GATEWAY_DEMO_KEY: 'b'.repeat(24), GATEWAY_APP_KEY: 'c'.repeat(24),
  CLICKHOUSE_USER: 'gateway', CLICKHOUSE_PASSWORD: 'd'.repeat(24), GATEWAY_SESSION_SECRET: 'e'.repeat(40),
};

/** Compose's variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (an error when unset or empty). */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const value = vars[name];
    if (op === '-') return value ? value : arg;
    if (op === '?' && !value) throw new Error(`compose refuses to start: ${name}: ${arg}`);
    return value ?? '';
  });
}

describe('compose and Kubernetes agree with the gateway', () => {
  it('every manifest parses and has the expected kinds', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
    expect(byKind('HorizontalPodAutoscaler').spec.scaleTargetRef.name).toBe(byKind('Deployment').metadata.name);
    expect(byKind('Service').spec.selector).toEqual(byKind('Deployment').spec.selector.matchLabels);
  });

  it('the same image (a release tag, never latest), port, config path and environment everywhere', () => {
    const gatewayService = compose.services.gateway!;
    const container = byKind('Deployment').spec.template.spec.containers[0];
    expect(gatewayService.image).toBe(`llm-gateway:${version}`);
    expect(container.image).toBe(gatewayService.image);
    const dockerfile = read('Dockerfile');
    const port = Number(/EXPOSE (\d+)/.exec(dockerfile)?.[1]);
    expect(container.ports[0].containerPort).toBe(port);
    expect(gatewayService.ports).toContain(`\${PUBLISH_ADDRESS:-127.0.0.1}:${port}:${port}`);
    expect(byKind('Service').spec.ports[0].targetPort).toBe(container.ports[0].name);
    const composeConfig = parseConfigText(read('deploy/gateway.yaml'), 'deploy/gateway.yaml', env);
    expect(composeConfig.server.port).toBe(port);
    const k8sConfig = parseConfigText(byKind('ConfigMap').data['gateway.yaml'], 'configmap', env);
    expect(k8sConfig.server.port).toBe(port);
    // The variables the gateway reads for shared state and traces are set in both.
    expect(gatewayService.environment).toHaveProperty('CLICKHOUSE_URL');
    expect(gatewayService.environment).toHaveProperty('REDIS_URL');
    expect(byKind('Secret').stringData).toHaveProperty('CLICKHOUSE_URL');
    expect(byKind('Secret').stringData).toHaveProperty('REDIS_URL');
    // Replicas share the dashboard session secret, so a session works on whichever pod answers.
    expect(k8sConfig.auth.sessionSecret?.reveal()).toBe(env.GATEWAY_SESSION_SECRET);
    expect(byKind('Secret').stringData).toHaveProperty('GATEWAY_SESSION_SECRET');
    expect(container.env.find((e: { name: string }) => e.name === 'GATEWAY_CONFIG').value).toBe('/etc/gateway/gateway.yaml');
    expect(container.volumeMounts.find((v: { name: string }) => v.name === 'config').mountPath).toBe('/etc/gateway');
    expect(gatewayService.environment?.GATEWAY_CONFIG).toBe('/etc/gateway/gateway.yaml');
    // Every variable the config files interpolate is provided: by compose, or by the Secret.
    for (const name of [...read('deploy/gateway.yaml').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!)) expect(gatewayService.environment).toHaveProperty(name);
    for (const name of [...byKind('ConfigMap').data['gateway.yaml'].matchAll(/\$\{([A-Z_]+)/g)].map((m: RegExpMatchArray) => m[1]!)) expect(byKind('Secret').stringData).toHaveProperty(name);
  });

  it('the example Secret applied as it is starts no gateway: its placeholders are not usable keys', () => {
    // `kubectl apply -f deploy/kubernetes/` applies the example too; published placeholder keys must not work.
    const placeholders = byKind('Secret').stringData as Record<string, string>;
    let problems: string[] = [];
    try {
      parseConfigText(byKind('ConfigMap').data['gateway.yaml'], 'configmap', placeholders);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems.map((problem) => problem.path.map(String).join('.'));
    }
    expect(problems).toEqual(expect.arrayContaining(['auth.adminKey', 'auth.sessionSecret', 'auth.keys.0.key']));
  });

  it('probes hit real endpoints, and the pod outlives the drain', async () => {
    const container = byKind('Deployment').spec.template.spec.containers[0];
    for (const path of [container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path]) {
      expect((await fetch(`${gateway.origin}${path}`)).status).toBe(200);
    }
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    const k8sConfig = parseConfigText(byKind('ConfigMap').data['gateway.yaml'], 'configmap', env);
    const preStop = Number(container.lifecycle.preStop.exec.command[1]);
    const grace = byKind('Deployment').spec.template.spec.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThan(k8sConfig.server.shutdownGraceMs / 1000 + preStop);
    const composeConfig = parseConfigText(read('deploy/gateway.yaml'), 'deploy/gateway.yaml', env);
    expect(Number.parseInt(compose.services.gateway!.stop_grace_period!, 10)).toBeGreaterThan(composeConfig.server.shutdownGraceMs / 1000);
    expect(compose.services.gateway!.healthcheck!.test.join(' ')).toContain('/readyz');
    expect(read('Dockerfile')).toContain('/healthz');
  });

  it('the image runs the gateway with the Node options and allocator settings `npm start` uses', () => {
    const dockerfile = read('Dockerfile');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const words = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
    const assignments = words.filter((word) => /^[A-Z_][A-Z0-9_]*=/.test(word));
    expect(cmd).toEqual(words.slice(assignments.length));
    expect(cmd).toContain('--max-semi-space-size=4');
    // glibc reads its tunables when the process starts: the image sets them as ENV, the script before `node`.
    expect(assignments).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    const imageEnv = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1]!.split(/\s+|\\/).filter((word) => word.includes('='));
    for (const assignment of assignments) expect(imageEnv).toContain(assignment);
  });
});

describe('Kubernetes manifests', () => {
  const models: Record<string, new (data: any) => { validate(): void }> = {
    Deployment, PodDisruptionBudget, HorizontalPodAutoscaler, ConfigMap, Secret, Service,
  };

  it('every manifest validates against the Kubernetes API schemas, and a malformed one does not', () => {
    for (const manifest of manifests) {
      const Model = models[manifest.kind]!;
      expect(() => new Model(manifest).validate(), manifest.kind).not.toThrow();
    }
    const broken = structuredClone(byKind('Deployment'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
  });

  it('the pod passes Pod Security "restricted", with a read-only root filesystem and its data directory as a volume', () => {
    const pod = byKind('Deployment').spec.template.spec;
    expect(restrictedViolations(pod)).toEqual([]);
    const container = pod.containers[0];
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const dataMount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/app/data');
    expect(pod.volumes.find((v: { name: string }) => v.name === dataMount.name).emptyDir).toBeDefined();
    // The checker is not a rubber stamp: each weakening is caught.
    const weakened = (change: (pod: any) => void): string[] => {
      const copy = structuredClone(pod);
      change(copy);
      return restrictedViolations(copy);
    };
    expect(weakened((p) => delete p.containers[0].securityContext.allowPrivilegeEscalation)).toHaveLength(1);
    expect(weakened((p) => (p.containers[0].securityContext.capabilities = { add: ['NET_ADMIN'], drop: [] }))).toHaveLength(2);
    expect(weakened((p) => {
      delete p.securityContext.seccompProfile;
      delete p.containers[0].securityContext.seccompProfile;
    })).toHaveLength(1);
    expect(weakened((p) => {
      delete p.securityContext.runAsNonRoot;
      delete p.containers[0].securityContext.runAsNonRoot;
    })).toHaveLength(1);
    expect(weakened((p) => p.volumes.push({ name: 'host', hostPath: { path: '/' } }))).toHaveLength(1);
  });

  it('a release image tag, resource requests and limits, and a disruption budget that keeps replicas serving', () => {
    const deployment = byKind('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toMatch(/^llm-gateway:\d+\.\d+\.\d+$/);
    for (const kind of ['requests', 'limits']) {
      expect(container.resources[kind].cpu, kind).toBeDefined();
      expect(container.resources[kind].memory, kind).toBeDefined();
    }
    const pdb = byKind('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const minReplicas = byKind('HorizontalPodAutoscaler').spec.minReplicas;
    expect(pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.maxUnavailable).toBeLessThan(minReplicas);
  });
});

describe('the compose stack is safe by default', () => {
  const secrets = { ...env, GRAFANA_ADMIN_PASSWORD: 'e'.repeat(24) };

  it('refuses to start until every secret is set; none has a built-in value', () => {
    expect(() => interpolate(composeText, {})).toThrow(/refuses to start/);
    for (const name of ['GATEWAY_ADMIN_KEY', 'GATEWAY_DEMO_KEY', 'CLICKHOUSE_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']) {
      expect(() => interpolate(composeText, { ...secrets, [name]: '' })).toThrow(name);
    }
    const resolved = parseYaml(interpolate(composeText, secrets)) as { services: Record<string, ComposeService> };
    expect(resolved.services.clickhouse!.environment).toMatchObject({ CLICKHOUSE_USER: 'gateway', CLICKHOUSE_PASSWORD: secrets.CLICKHOUSE_PASSWORD });
    expect(resolved.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).toBe(secrets.GRAFANA_ADMIN_PASSWORD);
    expect(resolved.services.gateway!.environment).toMatchObject({ GATEWAY_ADMIN_KEY: secrets.GATEWAY_ADMIN_KEY, CLICKHOUSE_PASSWORD: secrets.CLICKHOUSE_PASSWORD });
    // The ClickHouse datasource signs in with the same password, from Grafana's environment.
    expect(read('deploy/grafana/provisioning/datasources/datasources.yml')).toContain('password: $CLICKHOUSE_PASSWORD');
    // deploy/.env.example names every variable compose requires.
    const example = read('deploy/.env.example');
    for (const [, name] of composeText.matchAll(/\$\{([A-Z_]+):\?/g)) expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  it('publishes every port on 127.0.0.1 unless PUBLISH_ADDRESS opts in', () => {
    const local = parseYaml(interpolate(composeText, secrets)) as { services: Record<string, ComposeService> };
    const published = Object.values(local.services).flatMap((service) => service.ports ?? []);
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    const open = parseYaml(interpolate(composeText, { ...secrets, PUBLISH_ADDRESS: '0.0.0.0' })) as { services: Record<string, ComposeService> };
    for (const port of Object.values(open.services).flatMap((service) => service.ports ?? [])) expect(port).toMatch(/^0\.0\.0\.0:/);
    expect(local.services.redis!.ports).toBeUndefined();
  });

  it('pins every image by exact tag, checks every service’s health, and starts the gateway after ClickHouse and Redis are healthy', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$/);
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(compose.services.gateway!.depends_on).toEqual({ clickhouse: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
  });

  it('the image build context leaves out secrets, tests, docs and local installs, and keeps what the Dockerfile copies', () => {
    const ignored = dockerIgnored(read('.dockerignore'));
    for (const path of ['.env', '.env.production', 'deploy/.env', 'node_modules/x', 'benchmarks/node_modules/x', 'gateway/test/unit/a.test.ts', 'docs/screenshots/a.png', 'benchmarks/run.ts', '.git/HEAD', 'dist/main.js', 'data/traces.duckdb', 'README.md']) {
      expect(ignored(path), path).toBe(true);
    }
    const copied = [...read('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copied.length).toBeGreaterThan(3);
    for (const path of copied) expect(ignored(path), path).toBe(false);
    for (const path of ['gateway/src/main.ts', 'clickhouse/0001_requests.sql', 'dashboard/index.html']) expect(ignored(path), path).toBe(false);
  });
});

/** .dockerignore's matching (Go filepath.Match plus `**`, later lines win, `!` re-includes): is `path` left out? */
function dockerIgnored(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '(?:.*)' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    // A path is left out when it, or a folder above it, matches the last rule that applies.
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.negate;
    return ignored;
  };
}
