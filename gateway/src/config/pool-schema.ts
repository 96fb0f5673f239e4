/**
 * Replica pools: one `openai-compatible` provider standing for several replicas of one model server
 * (vLLM, SGLang, TGI, llama.cpp…), from a static list or from DNS, scheduled by load and prompt prefix,
 * with admission control in front. A route still names the provider once (`provider/model`), so
 * fallbacks, breakers and canaries above it are unchanged; the pool picks a replica per attempt.
 */
import { z } from 'zod';

const positiveMs = z.number().int().positive();

export const SCHEDULING_STRATEGIES = ['round-robin', 'least-busy', 'least-loaded', 'prefix-affinity'] as const;
export type SchedulingStrategy = (typeof SCHEDULING_STRATEGIES)[number];

const schedulingObject = z.strictObject({
  /**
   * round-robin: in turn. least-busy: fewest of this gateway's own requests in flight.
   * least-loaded: lowest score from the engine's queue, running requests and KV use plus what this
   * gateway sent since the last scrape. prefix-affinity: the replica that recently served the longest
   * matching prompt prefix, unless that would put it above loadFactor × the mean load (then least-loaded).
   */
  strategy: z.enum(SCHEDULING_STRATEGIES).default('least-loaded'),
  /** Candidates sampled per pick (2 = power of two choices); 0 scores every replica. */
  choices: z.number().int().min(0).default(0),
  /** Score weight of each request waiting in the engine's queue, on top of counting it as load. */
  queueWeight: z.number().min(0).default(1),
  /** Score weight of KV-cache utilisation (0–1): 2 makes a full cache cost as much as two requests. */
  kvWeight: z.number().min(0).default(2),
  /** Prompt prefix hashing: characters per block… */
  prefixBlockChars: z.number().int().min(16).max(65_536).default(256),
  /** …and the most blocks hashed per request (bounds the work on long prompts). */
  prefixMaxBlocks: z.number().int().positive().max(4096).default(64),
  /** Prefix blocks remembered per replica (least recently used forgotten first). */
  prefixCacheBlocks: z.number().int().positive().default(20_000),
  /**
   * Bounded load: a prefix match is followed only while the replica stays under this × mean load
   * (1 + ε). Looser than the 1.25 usual for consistent hashing, because a request on the replica that
   * holds its prefix costs far less than one that must prefill it (benchmarks/README.md: 1.25 gave up
   * most of the TTFT gain, 2 kept queues at round-robin's level).
   */
  loadFactor: z.number().min(1).default(2),
});

export const schedulingSchema = z
  .union([z.enum(SCHEDULING_STRATEGIES).transform((strategy) => schedulingObject.parse({ strategy })), schedulingObject])
  .prefault({});

export const engineMetricsSchema = z.strictObject({
  /** Path of the engine's Prometheus endpoint on each replica. */
  path: z.string().startsWith('/').default('/metrics'),
  /** Port of that endpoint when it is not the API's own. */
  port: z.number().int().min(1).max(65_535).optional(),
  /** Scrape interval (each replica jittered ±20% around it). */
  intervalMs: positiveMs.default(1000),
  timeoutMs: positiveMs.default(500),
  /** A reading older than this is ignored: the replica is scored by this gateway's own in-flight count. */
  staleAfterMs: positiveMs.default(5000),
});

export const discoverySchema = z.strictObject({
  type: z.literal('dns'),
  /** Name to resolve (every A/AAAA address is a replica); default: the host of `baseUrl`. */
  name: z.string().min(1).optional(),
  /** Port of every replica; default: the port of `baseUrl`. */
  port: z.number().int().min(1).max(65_535).optional(),
  intervalMs: positiveMs.default(5000),
  /** DNS servers (`host` or `host:port`) to ask directly; default: the system resolver (/etc/hosts, search domains). */
  servers: z.array(z.string().min(1)).min(1).optional(),
  /** Upper bound on replicas taken from one answer (it also bounds the metric labels). */
  maxReplicas: z.number().int().positive().max(1024).default(64),
});

export const poolAdmissionSchema = z.strictObject({
  /** Requests this gateway keeps in flight on one replica at most; 0 = no limit. */
  maxInFlight: z.number().int().min(0).default(0),
  /** A replica whose engine queue (waiting requests) reaches this is saturated; 0 = no limit. */
  maxWaiting: z.number().int().min(0).default(0),
  /** Requests held in the gateway while every replica is saturated; past it they are shed (429). */
  queueSize: z.number().int().min(0).default(256),
  /** Longest wait in that queue (also bounded by the request's deadline) before a 429 `overloaded`. */
  maxQueueWaitMs: positiveMs.default(5000),
});

/** Fields an `openai-compatible` provider takes to become a pool. */
export const poolFields = {
  /** Base URLs of the replicas (instead of `baseUrl`). */
  replicas: z.array(z.url()).min(1).optional(),
  /** Replicas from DNS, re-resolved on an interval; `baseUrl` gives the scheme, path and default host/port. */
  discovery: discoverySchema.optional(),
  /** Which engine's /metrics to read for load; `none` schedules on this gateway's own counts. */
  engine: z.enum(['none', 'auto', 'vllm', 'sglang', 'tgi', 'llamacpp']).default('none'),
  engineMetrics: engineMetricsSchema.prefault({}),
  scheduling: schedulingSchema,
  admission: poolAdmissionSchema.prefault({}),
};

/** Request priority classes: who waits in a pool's queue first, and who is shed first when it is full. */
export const prioritySchema = z
  .strictObject({
    /** Highest first. */
    classes: z.array(z.string().min(1).max(32)).min(1).default(['interactive', 'batch']),
    /** Class of a request that names none. */
    default: z.string().min(1).optional(),
    /** Request header naming the class (an unknown class is the default). */
    header: z.string().min(1).toLowerCase().default('x-gateway-priority'),
    /** Gateway key id → class (a key's class wins over the header). */
    keys: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .refine((p) => p.default === undefined || p.classes.includes(p.default), { message: 'default must be one of classes', path: ['default'] })
  .refine((p) => Object.values(p.keys).every((c) => p.classes.includes(c)), { message: 'every key class must be one of classes', path: ['keys'] });

const DEFAULT_SCHEDULING = schedulingObject.parse({});
const DEFAULT_ADMISSION = poolAdmissionSchema.parse({});

/**
 * Settings that only a pool acts on, changed from their defaults on a provider that is not a pool (a
 * single `baseUrl`), or `maxWaiting` without the engine readings it is judged on: they would validate
 * and do nothing. Each is named with the fix.
 */
export function idlePoolSettings(provider: {
  replicas?: unknown;
  discovery?: unknown;
  engine: string;
  scheduling: SchedulingConfig;
  admission: PoolAdmissionConfig;
}): { path: string; message: string }[] {
  const found: { path: string; message: string }[] = [];
  const pool = provider.replicas !== undefined || provider.discovery !== undefined;
  const single = 'only a replica pool acts on it: list the server under replicas (one is a pool) or set discovery';
  if (!pool && JSON.stringify(provider.scheduling) !== JSON.stringify(DEFAULT_SCHEDULING)) found.push({ path: 'scheduling', message: single });
  if (!pool && JSON.stringify(provider.admission) !== JSON.stringify(DEFAULT_ADMISSION)) found.push({ path: 'admission', message: single });
  if (pool && provider.admission.maxWaiting > 0 && provider.engine === 'none') {
    found.push({ path: 'admission', message: 'maxWaiting is judged on the engine\'s queue: set engine (or auto) so its metrics are read' });
  }
  return found;
}

export type SchedulingConfig = z.infer<typeof schedulingObject>;
export type EngineMetricsConfig = z.infer<typeof engineMetricsSchema>;
export type DiscoveryConfig = z.infer<typeof discoverySchema>;
export type PoolAdmissionConfig = z.infer<typeof poolAdmissionSchema>;
export type PriorityConfig = z.infer<typeof prioritySchema>;
