/**
 * The configuration file's schema. Defaults live here, next to the field they belong to, so the
 * README's configuration reference and this file say the same thing.
 */
import { z } from 'zod';
import { authSchema } from '../auth/auth-config.js';
import { cacheSchema } from '../cache/cache-config.js';
import { telemetrySchema } from '../telemetry/telemetry-config.js';
import { guardrailsSchema } from './guardrail-schema.js';
import { piecesMissingRedis, placeState, redisSchema, stateSchema } from '../state/state-config.js';
import { responsesSchema } from '../state/responses-config.js';
import { idlePoolSettings, poolFields } from './pool-schema.js';
import { healthCheckSchema, routeSchema, routingDefaultsSchema } from './routing-schema.js';
import { trustProxySchema } from '../http/trust-proxy.js';

const MiB = 1024 * 1024;

const positiveMs = z.number().int().positive();
const headerMap = z.record(z.string().min(1), z.string());

/** Connection and timeout settings shared by every provider that talks HTTP. */
const httpProviderFields = {
  /** Time allowed for one attempt to receive response headers (the first byte, for a stream). */
  timeoutMs: positiveMs.default(120_000),
  /** Time allowed to open a TCP/TLS connection. */
  connectTimeoutMs: positiveMs.default(10_000),
  /** Longest silence allowed between two body chunks (a stalled stream fails after this). */
  idleTimeoutMs: positiveMs.default(60_000),
  /** Upper bound on open connections per upstream origin. */
  maxConnections: z.number().int().positive().default(128),
  /** Extra headers sent with every upstream request (e.g. a proxy's routing header). */
  headers: headerMap.default({}),
  /** Models this provider serves, advertised by GET /v1/models as `<provider>/<model>`. */
  models: z.array(z.string().min(1)).default([]),
  /** Optional active health check; an unhealthy provider's targets are skipped while others are up. */
  healthCheck: healthCheckSchema.optional(),
};

const openaiProvider = z.strictObject({
  type: z.literal('openai'),
  apiKey: z.string().min(1),
  baseUrl: z.url().default('https://api.openai.com/v1'),
  organization: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  ...httpProviderFields,
});

const openaiCompatibleProvider = z
  .strictObject({
    type: z.literal('openai-compatible'),
    /** One server; with `discovery`, the template for every replica's URL. Omitted when `replicas` are listed. */
    baseUrl: z.url().optional(),
    /** Optional: many self-hosted servers need none. An empty key means none. */
    apiKey: z.string().optional().transform((key) => key || undefined),
    /**
     * How `/v1/responses` requests reach this server: `native` when it serves the Responses API itself
     * (recent vLLM and SGLang do), `translate` to chat completions (what every OpenAI-compatible server has).
     */
    responses: z.enum(['native', 'translate']).default('translate'),
    ...httpProviderFields,
    ...poolFields,
  })
  .superRefine((provider, ctx) => {
    const issue = (path: string, message: string): void => void ctx.addIssue({ code: 'custom', path: [path], message });
    if (provider.replicas && provider.discovery) issue('discovery', 'give either replicas or discovery, not both');
    if (provider.replicas && provider.baseUrl) issue('baseUrl', 'give either baseUrl or replicas, not both');
    if (!provider.replicas && !provider.baseUrl) issue('baseUrl', 'required (or list replicas)');
    if (!provider.replicas && !provider.discovery && provider.engine !== 'none') issue('engine', 'engine metrics need a pool: list replicas or set discovery');
    for (const idle of idlePoolSettings(provider)) issue(idle.path, idle.message);
  });

const anthropicProvider = z.strictObject({
  type: z.literal('anthropic'),
  apiKey: z.string().min(1),
  baseUrl: z.url().default('https://api.anthropic.com'),
  /** Anthropic requires max_tokens; this is sent when the client gives none. */
  defaultMaxTokens: z.number().int().positive().default(4096),
  ...httpProviderFields,
});

const azureProvider = z.strictObject({
  type: z.literal('azure'),
  /** The resource endpoint, e.g. https://my-resource.openai.azure.com */
  baseUrl: z.url(),
  apiKey: z.string().min(1),
  apiVersion: z.string().min(1).default('2024-10-21'),
  /** `/v1/responses` through Azure's v1 Responses endpoint (`native`), or translated to chat deployments. */
  responses: z.enum(['native', 'translate']).default('native'),
  /** Model name (as routes name it) → Azure deployment name; unlisted models use their own name. */
  deployments: z.record(z.string().min(1), z.string().min(1)).default({}),
  ...httpProviderFields,
});

const geminiProvider = z.strictObject({
  type: z.literal('gemini'),
  apiKey: z.string().min(1),
  baseUrl: z.url().default('https://generativelanguage.googleapis.com'),
  apiVersion: z.string().min(1).default('v1beta'),
  ...httpProviderFields,
});

const mockProvider = z.strictObject({
  type: z.literal('mock'),
  /** Delay before the reply (or before the first chunk of a stream). */
  latencyMs: z.number().int().nonnegative().default(0),
  /** Number of content chunks in a streamed reply. */
  streamChunks: z.number().int().positive().default(8),
  /** Delay between two stream chunks. */
  chunkDelayMs: z.number().int().nonnegative().default(0),
  /** Length of embedding vectors when the request names no `dimensions`. */
  embeddingDimensions: z.number().int().positive().max(8192).default(8),
  models: z.array(z.string().min(1)).default(['mock-1']),
});

export const providerSchema = z.discriminatedUnion('type', [
  openaiProvider,
  openaiCompatibleProvider,
  anthropicProvider,
  azureProvider,
  geminiProvider,
  mockProvider,
]);

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8787),
  /** Largest request body accepted; larger bodies get 413 `body_too_large`. */
  bodyLimitBytes: z.number().int().positive().default(10 * MiB),
  /** On SIGTERM/SIGINT, how long in-flight requests may run before connections are cut. */
  shutdownGraceMs: z.number().int().nonnegative().max(3_600_000).default(10_000), // an hour; timers overflow past 2^31 ms
  /** Deepest JSON nesting accepted in a body (deeper bodies are refused before parsing). */
  maxJsonDepth: z.number().int().positive().default(64),
  /** Largest request head (request line + headers) accepted. */
  maxHeaderBytes: z.number().int().positive().default(32 * 1024),
  /** Time allowed to receive a whole request (head and body) from a client. */
  requestReceiveTimeoutMs: z.number().int().positive().default(30_000),
  /** Whose X-Forwarded-* headers to believe (see http/trust-proxy.ts); none by default. */
  trustProxy: trustProxySchema,
});

const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    logging: loggingSchema.prefault({}),
    providers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'provider names use letters, digits, _ . -'), providerSchema),
    routing: routingDefaultsSchema.prefault({}),
    redis: redisSchema.prefault({}),
    state: stateSchema.prefault({}),
    cache: cacheSchema.prefault({}),
    responses: responsesSchema.prefault({}),
    telemetry: telemetrySchema.prefault({}),
    auth: authSchema.prefault({}),
    routes: z.record(z.string().min(1), routeSchema).default({}),
    /** Named checks on requests and answers, attached in `routing.guardrails` and per route. */
    guardrails: guardrailsSchema,
  })
  .superRefine((config, context) => {
    for (const piece of piecesMissingRedis(config.state, config.redis.url)) {
      context.addIssue({ code: 'custom', path: ['state', piece], message: 'redis, but no redis.url or REDIS_URL is set' });
    }
  })
  // Every piece of state gets its store decided here, once: the rest of the code reads `state.<piece>`.
  .transform((config) => ({ ...config, state: placeState(config.state, config.redis.url) }));

export type GatewayConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type HttpProviderConfig = Exclude<ProviderConfig, { type: 'mock' }>;
export type OpenAICompatibleProviderConfig = Extract<ProviderConfig, { type: 'openai-compatible' }>;
export type MockProviderConfig = Extract<ProviderConfig, { type: 'mock' }>;
export type { RouteConfig, RouteNodeConfig, RetryConfig, BreakerConfig, HealthCheckConfig } from './routing-schema.js';
