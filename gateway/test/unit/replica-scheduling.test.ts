import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { AdmissionQueue } from '../../src/routing/admission-queue.js';
import { PrefixIndex, prefixBlockKeys } from '../../src/routing/prefix-hash.js';
import { ReplicaScheduler, type SchedulableReplica } from '../../src/routing/replica-scheduler.js';
import type { SchedulingConfig } from '../../src/config/pool-schema.js';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { metricLabels } from '../../src/telemetry/metric-labels.js';
import { readEngineLoad } from '../../src/upstream/engine-metrics.js';
import { sumMetrics } from '../../src/upstream/prometheus-text.js';
import { seededRandom } from '../helpers/seeded-random.js';

const NOW = 1_000_000;
const config: SchedulingConfig = { strategy: 'least-loaded', choices: 0, queueWeight: 1, kvWeight: 2, prefixBlockChars: 16, prefixMaxBlocks: 8, prefixCacheBlocks: 100, loadFactor: 1.25 };

type Named = SchedulableReplica & { name: string };

function replica(overrides: Partial<Named> = {}): Named {
  return { name: '', inFlight: 0, sent: 0, done: 0, engine: undefined, engineAt: 0, ttfbMs: 0, prefixes: new PrefixIndex(100), ...overrides };
}

function scheduler(overrides: Partial<SchedulingConfig> = {}, limits = { maxInFlight: 0, maxWaiting: 0 }): ReplicaScheduler {
  return new ReplicaScheduler({ ...config, ...overrides }, limits, 5000, seededRandom(1), () => NOW);
}

describe('Prometheus text', () => {
  it('sums samples across label sets, skips comments, histograms and unterminated label sets', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="m"} 3.0',
      'vllm:num_requests_waiting{engine="1",model_name="a \\"quoted} name"} 4 1712345678000',
      'vllm:num_requests_waiting_total{engine="0"} 99',
      'vllm:num_requests_waiting{engine="2" 7',
      'vllm:num_requests_running 2',
      'vllm:kv_cache_usage_perc NaN',
    ].join('\n');
    const sums = sumMetrics(text, new Set(['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc']));
    expect(sums.get('vllm:num_requests_waiting')).toEqual({ sum: 7, count: 2 });
    expect(sums.get('vllm:num_requests_running')).toEqual({ sum: 2, count: 1 });
    expect(sums.has('vllm:kv_cache_usage_perc')).toBe(false);
  });

  it('detects the engine from its gauges; KV use is averaged across data-parallel engines, queues summed', () => {
    const vllm = 'vllm:num_requests_running{engine="0"} 2\nvllm:num_requests_running{engine="1"} 3\nvllm:num_requests_waiting{engine="0"} 1\nvllm:num_requests_waiting{engine="1"} 0\nvllm:gpu_cache_usage_perc{engine="0"} 0.2\nvllm:gpu_cache_usage_perc{engine="1"} 0.6\n';
    expect(readEngineLoad(vllm, undefined)).toEqual({ engine: 'vllm', load: { running: 5, waiting: 1, kvUsage: 0.4 } });
    expect(readEngineLoad('tgi_queue_size 4\ntgi_batch_current_size 6\n', undefined)).toEqual({ engine: 'tgi', load: { running: 6, waiting: 4, kvUsage: undefined } });
    // Told it is SGLang, a vLLM page is no reading at all.
    expect(readEngineLoad(vllm, 'sglang')).toBeUndefined();
  });
});

describe('least-loaded scoring', () => {
  it('a fresh reading counts running + waiting + sent − done, plus the queue and KV weights', () => {
    const s = scheduler();
    const r = replica({ engine: { running: 4, waiting: 2, kvUsage: 0.5 }, engineAt: NOW - 100, sent: 3, done: 1, inFlight: 2 });
    expect(s.load(r)).toBe(8);
    expect(s.waiting(r)).toBe(4);
    expect(s.score(r)).toBe(8 + 4 + 1);
  });

  it('a stale reading is ignored: the load is the gateway\'s own in-flight count', () => {
    const s = scheduler();
    const r = replica({ engine: { running: 40, waiting: 20, kvUsage: 1 }, engineAt: NOW - 6000, inFlight: 3 });
    expect(s.fresh(r)).toBe(false);
    expect(s.score(r)).toBe(3);
  });

  it('never reads fewer requests than this gateway has in flight (another client may have finished)', () => {
    expect(scheduler().load(replica({ engine: { running: 0, waiting: 0, kvUsage: 0 }, engineAt: NOW, inFlight: 5 }))).toBe(5);
  });

  it('picks the lowest score and skips saturated replicas; all saturated is no pick', () => {
    const s = scheduler({}, { maxInFlight: 2, maxWaiting: 3 });
    const a = replica({ name: 'a', inFlight: 2 });
    const b = replica({ name: 'b', engine: { running: 1, waiting: 3, kvUsage: 0 }, engineAt: NOW });
    const c = replica({ name: 'c', engine: { running: 5, waiting: 0, kvUsage: 0.9 }, engineAt: NOW });
    expect(s.pick([a, b, c], [])?.replica.name).toBe('c');
    c.inFlight = 2;
    expect(s.pick([a, b, c], [])).toBeUndefined();
  });

  it('at equal load a replica slower to answer scores higher; once the fast ones are busier it is used again', () => {
    const s = scheduler();
    const fast1 = replica({ name: 'fast1', ttfbMs: 100, inFlight: 2 });
    const fast2 = replica({ name: 'fast2', ttfbMs: 100, inFlight: 2 });
    const slow = replica({ name: 'slow', ttfbMs: 200, inFlight: 2 });
    expect(s.pick([slow, fast1, fast2], [])!.replica.name).not.toBe('slow');
    expect(s.score(slow)).toBeCloseTo(2 * 1.5);
    // Mean 133 ms: the fast ones weigh 0.75, the slow one 1.5 — it wins once they hold 5 against its 2.
    fast1.inFlight = 5;
    fast2.inFlight = 5;
    expect(s.pick([slow, fast1, fast2], [])!.replica.name).toBe('slow');
  });

  it('power of two choices samples two candidates and takes the better', () => {
    const s = scheduler({ choices: 2 });
    const replicas = [0, 1, 2, 3, 4, 5].map((n) => replica({ name: String(n), inFlight: n }));
    const picked = new Set<string>();
    for (let i = 0; i < 200; i++) picked.add(s.pick(replicas, [])!.replica.name);
    // The busiest replica can never win a pair; the idlest is not the only winner.
    expect(picked.has('5')).toBe(false);
    expect(picked.size).toBeGreaterThan(1);
  });

  it('round-robin takes replicas in turn; least-busy the fewest in flight', () => {
    const rr = scheduler({ strategy: 'round-robin' });
    const replicas = ['a', 'b', 'c'].map((name) => replica({ name }));
    expect([0, 1, 2, 3].map(() => rr.pick(replicas, [])!.replica.name)).toEqual(['a', 'b', 'c', 'a']);
    replicas[0]!.inFlight = 1;
    replicas[2]!.inFlight = 1;
    expect(scheduler({ strategy: 'least-busy' }).pick(replicas, [])!.replica.name).toBe('b');
  });
});

describe('prefix affinity', () => {
  const body = (system: string, user: string) => ({ messages: [{ role: 'system', content: system }, { role: 'user', content: user }] });

  it('block keys follow the prefix: equal up to the first difference, different after it, bounded in number', () => {
    // Separators and roles make the common part 116 characters: 7 whole blocks of 16.
    const a = prefixBlockKeys(body('x'.repeat(100), 'hello there, how are you'), 16, 64);
    const b = prefixBlockKeys(body('x'.repeat(100), 'goodbye now, see you then'), 16, 64);
    expect(a).toHaveLength(8);
    expect(a.findIndex((key, i) => key !== b[i])).toBe(7);
    expect(prefixBlockKeys(body('y'.repeat(10_000), 'q'), 16, 8)).toHaveLength(8);
    expect(prefixBlockKeys({ input: 'embed me' }, 16, 8)).toHaveLength(0);
    // A role boundary is part of the key: the same text split differently between messages differs.
    const split1 = prefixBlockKeys({ messages: [{ role: 'user', content: 'ab'.repeat(20) }, { role: 'user', content: 'cd'.repeat(20) }] }, 16, 64);
    const split2 = prefixBlockKeys({ messages: [{ role: 'user', content: `${'ab'.repeat(20)}cd` }, { role: 'user', content: 'cd'.repeat(19) }] }, 16, 64);
    expect(split1.at(-1)).not.toBe(split2.at(-1));
  });

  it('the prefix index matches leading blocks and forgets the least recently used', () => {
    const index = new PrefixIndex(4);
    index.record([1, 2, 3]);
    expect(index.matchLength([1, 2, 9])).toBe(2);
    index.record([7, 8]);
    expect(index.size).toBe(4);
    expect(index.matchLength([1])).toBe(0);
  });

  it('follows the longest match within the load bound; past the bound, least-loaded with reason prefix-overloaded', () => {
    const s = scheduler({ strategy: 'prefix-affinity' });
    const keys = prefixBlockKeys(body('s'.repeat(64), 'u'), 16, 8);
    const holder = replica({ name: 'holder' });
    holder.prefixes.record(keys);
    const partial = replica({ name: 'partial' });
    partial.prefixes.record(keys.slice(0, 2));
    const others = [replica({ name: 'o1' }), replica({ name: 'o2' })];
    const pick = s.pick([partial, holder, ...others], keys)!;
    expect(pick).toMatchObject({ reason: 'prefix', prefixBlocks: keys.length });
    expect(pick.replica.name).toBe('holder');

    // total load 6 + 1, bound ⌈1.25 × 7 / 4⌉ = 3: the holder at 3 may not take a fourth.
    holder.inFlight = 3;
    partial.inFlight = 3;
    const spilled = s.pick([partial, holder, ...others], keys)!;
    expect(spilled.reason).toBe('prefix-overloaded');
    expect(['o1', 'o2']).toContain(spilled.replica.name);
  });
});

describe('admission queue', () => {
  const options = { maxSize: 2, maxWaitMs: 10_000, classes: 2, name: 'gpus' };

  it('serves waiters by class, then arrival, when the pool drains it', async () => {
    const queue = new AdmissionQueue<string>(options);
    const signal = new AbortController().signal;
    const order: string[] = [];
    const batch = queue.wait(1, 'batch', Date.now() + 10_000, signal).then(() => order.push('batch'));
    const interactive = queue.wait(0, 'interactive', Date.now() + 10_000, signal).then(() => order.push('interactive'));
    const served: string[] = [];
    queue.drain((payload) => {
      served.push(payload);
      return served.length <= 2;
    });
    await Promise.all([batch, interactive]);
    expect(served.slice(0, 2)).toEqual(['interactive', 'batch']);
    expect(queue.size).toBe(0);
  });

  it('a full queue refuses an arrival of the same class, and sheds a lower class for a higher one', async () => {
    const shed: number[] = [];
    const queue = new AdmissionQueue<string>({ ...options, onShed: (c) => shed.push(c) });
    const signal = new AbortController().signal;
    const deadline = Date.now() + 10_000;
    const b1 = queue.wait(1, 'b1', deadline, signal);
    const b2 = queue.wait(1, 'b2', deadline, signal);
    await expect(queue.wait(1, 'b3', deadline, signal)).rejects.toMatchObject({ code: 'overloaded', status: 429, retryAfterMs: 1000 });
    const i1 = queue.wait(0, 'i1', deadline, signal);
    await expect(b2).rejects.toMatchObject({ code: 'overloaded' });
    expect(shed).toEqual([1, 1]);
    queue.clear(new GatewayError('shutting_down', 'closing'));
    await expect(b1).rejects.toMatchObject({ code: 'shutting_down' });
    await expect(i1).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('never holds a request past its deadline, and lets an aborted one go with the abort reason', async () => {
    const queue = new AdmissionQueue<string>(options);
    const started = Date.now();
    await expect(queue.wait(0, 'x', Date.now() + 60, new AbortController().signal)).rejects.toMatchObject({ code: 'overloaded' });
    expect(Date.now() - started).toBeLessThan(1000);
    const controller = new AbortController();
    const waiting = queue.wait(0, 'y', Date.now() + 10_000, controller.signal);
    controller.abort(new GatewayError('deadline_exceeded', 'late'));
    await expect(waiting).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(queue.size).toBe(0);
  });
});

describe('pool configuration', () => {
  const problems = (providers: Record<string, unknown>, routing: Record<string, unknown> = {}): string[] => {
    try {
      validateConfig({ providers, routing }, {}, 'test');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((p) => `${p.path.map(String).join('.')}: ${p.message}`);
    }
    return [];
  };

  it('takes replicas or DNS discovery with defaults, and `scheduling` as a bare strategy name', () => {
    const config = validateConfig(
      { providers: { gpus: { type: 'openai-compatible', replicas: ['http://10.0.0.5:8000/v1'], engine: 'vllm', scheduling: 'prefix-affinity' } } },
      {},
      'test',
    );
    const gpus = config.providers.gpus as Extract<typeof config.providers.gpus, { type: 'openai-compatible' }>;
    expect(gpus.scheduling).toMatchObject({ strategy: 'prefix-affinity', loadFactor: 2, prefixBlockChars: 256, prefixMaxBlocks: 64 });
    expect(gpus.engineMetrics).toEqual({ path: '/metrics', intervalMs: 1000, timeoutMs: 500, staleAfterMs: 5000 });
    expect(gpus.admission).toEqual({ maxInFlight: 0, maxWaiting: 0, queueSize: 256, maxQueueWaitMs: 5000 });
    expect(config.routing.priority).toMatchObject({ classes: ['interactive', 'batch'], header: 'x-gateway-priority' });
  });

  it('replica metric labels come from the configuration: listed addresses, discovery slots below maxReplicas', () => {
    const config = validateConfig(
      {
        providers: {
          listed: { type: 'openai-compatible', replicas: ['http://10.0.0.5:8000/v1', 'http://gpu-b:8000/v1'] },
          found: { type: 'openai-compatible', baseUrl: 'http://vllm.ml.svc:8000/v1', discovery: { type: 'dns', maxReplicas: 3 } },
        },
      },
      {},
      'test',
    );
    const { replicas } = metricLabels(config);
    expect(['10.0.0.5:8000', 'gpu-b:8000', '#0', '#2'].map((l) => replicas.value(l))).toEqual(['10.0.0.5:8000', 'gpu-b:8000', '#0', '#2']);
    expect(replicas.value('#3')).toBe('other');
    expect(replicas.value('10.1.2.3:8000')).toBe('other');
  });

  it('names every contradiction with its path', () => {
    expect(problems({ a: { type: 'openai-compatible', baseUrl: 'http://x/v1', replicas: ['http://y/v1'] } })).toEqual(['providers.a.baseUrl: give either baseUrl or replicas, not both']);
    expect(problems({ a: { type: 'openai-compatible', replicas: ['http://y/v1'], discovery: { type: 'dns' } } })).toContain('providers.a.discovery: give either replicas or discovery, not both');
    expect(problems({ a: { type: 'openai-compatible', baseUrl: 'http://x/v1', engine: 'vllm' } })).toEqual(['providers.a.engine: engine metrics need a pool: list replicas or set discovery']);
    expect(problems({ a: { type: 'openai-compatible' } })).toEqual(['providers.a.baseUrl: required (or list replicas)']);
    expect(problems({ a: { type: 'openai-compatible', replicas: ['http://y/v1'], scheduling: 'fastest' } })[0]).toMatch(/^providers\.a\.scheduling/);
    expect(problems({ mock: { type: 'mock' } }, { priority: { classes: ['gold', 'bronze'], default: 'silver' } })).toEqual(['routing.priority.default: default must be one of classes']);
    // Settings that would validate and do nothing: pool settings on a single server, a queue limit without engine readings.
    expect(problems({ a: { type: 'openai-compatible', baseUrl: 'http://x/v1', admission: { maxInFlight: 8 } } })).toEqual([
      'providers.a.admission: only a replica pool acts on it: list the server under replicas (one is a pool) or set discovery',
    ]);
    expect(problems({ a: { type: 'openai-compatible', baseUrl: 'http://x/v1', scheduling: 'prefix-affinity' } })[0]).toMatch(/^providers\.a\.scheduling: only a replica pool/);
    expect(problems({ a: { type: 'openai-compatible', replicas: ['http://y/v1'], admission: { maxWaiting: 8 } } })[0]).toMatch(/^providers\.a\.admission: maxWaiting is judged on the engine's queue/);
    expect(problems({ a: { type: 'openai-compatible', replicas: ['http://y/v1'], engine: 'auto', admission: { maxWaiting: 8, maxInFlight: 4 } } })).toEqual([]);
    expect(problems({ a: { type: 'openai-compatible', baseUrl: 'http://x/v1' } })).toEqual([]);
  });
});
