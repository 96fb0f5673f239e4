/**
 * A fake GPU model server for tests and the fleet benchmark. It speaks the OpenAI chat API (JSON and
 * SSE) and models what makes scheduling matter on a real one:
 *
 * - a batch of at most `batchCapacity` running requests; the rest wait in a FIFO queue;
 * - prefill on one compute lane (requests prefill one after another, as a GPU's prefill is
 *   compute-bound), costing `prefillMsPerToken` per *uncached* prompt token; a request waiting for
 *   the lane counts as waiting (it has no first token yet), one past it as running;
 * - a prefix cache: prompt blocks of 16 tokens (64 characters, hashed with the whole prefix before
 *   them, as vLLM's automatic prefix caching hashes token blocks), least recently used evicted past
 *   `cacheBlocks`; cached blocks cost no prefill;
 * - decode of `outputTokens` at `decodeMsPerToken` each, running in parallel within the batch;
 * - `speed` divides every cost (0.5 = a replica half as fast).
 *
 * Its /metrics page is written in the exposition format of the engine it imitates — vLLM, SGLang, TGI
 * or llama.cpp — with those engines' own metric names, HELP/TYPE lines and label sets (see
 * gateway/src/upstream/engine-metrics.ts for where each comes from), so the gateway's scraper reads it
 * as it would read the real thing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeEngineKind = 'vllm' | 'sglang' | 'tgi' | 'llamacpp';

export interface FakeEngineOptions {
  engine: FakeEngineKind;
  batchCapacity?: number;
  prefillMsPerToken?: number;
  decodeMsPerToken?: number;
  outputTokens?: number;
  /** Output tokens per SSE chunk. */
  tokensPerChunk?: number;
  cacheBlocks?: number;
  /** KV capacity in tokens, for the utilisation gauge. */
  kvTokens?: number;
  speed?: number;
  host?: string;
}

const BLOCK_CHARS = 64;
const CHARS_PER_TOKEN = 4;

export interface FakeEngineStats {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  peakWaiting: number;
  peakRunning: number;
}

interface Job {
  promptText: string;
  promptTokens: number;
  stream: boolean;
  model: string;
  res: ServerResponse;
  aborted: boolean;
}

export class FakeEngine {
  readonly options: Required<Omit<FakeEngineOptions, 'host'>>;
  private server: Server | undefined;
  private readonly waiting: Job[] = [];
  private running = 0;
  /** Admitted to the batch but still waiting for the prefill lane: queued, as far as the client can tell. */
  private prefillPending = 0;
  private prefillBusyUntil = 0;
  private readonly cache = new Map<number, true>();
  stats: FakeEngineStats = { requests: 0, promptTokens: 0, cachedTokens: 0, peakWaiting: 0, peakRunning: 0 };
  /** Request bodies received, for tests. */
  readonly received: Record<string, unknown>[] = [];
  /** When set, /metrics answers this status instead (a broken or missing endpoint). */
  metricsStatus = 200;
  /** /health's status (a replica failing its health check). */
  healthStatus = 200;
  /** When set, chat completions fail with this status (a broken replica). */
  failStatus: number | undefined;
  /** Overrides the gauges the /metrics page reports (tests pin load this way). */
  reported: { running?: number; waiting?: number; kvUsage?: number } = {};
  scrapes = 0;
  port = 0;

  constructor(options: FakeEngineOptions) {
    this.options = {
      engine: options.engine,
      batchCapacity: options.batchCapacity ?? 8,
      prefillMsPerToken: options.prefillMsPerToken ?? 0.02,
      decodeMsPerToken: options.decodeMsPerToken ?? 2,
      outputTokens: options.outputTokens ?? 16,
      tokensPerChunk: options.tokensPerChunk ?? 4,
      cacheBlocks: options.cacheBlocks ?? 4096,
      kvTokens: options.kvTokens ?? 65_536,
      speed: options.speed ?? 1,
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Forgets cached prefixes and statistics (between benchmark phases). */
  reset(): void {
    this.cache.clear();
    this.stats = { requests: 0, promptTokens: 0, cachedTokens: 0, peakWaiting: 0, peakRunning: 0 };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url?.startsWith('/metrics')) {
      this.scrapes++;
      if (this.metricsStatus !== 200) {
        res.writeHead(this.metricsStatus).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.metricsText());
      return;
    }
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(this.healthStatus).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.stats));
      return;
    }
    if (req.method === 'POST' && req.url === '/reset') {
      this.reset();
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/reset-stats') {
      this.stats = { requests: 0, promptTokens: 0, cachedTokens: 0, peakWaiting: 0, peakRunning: 0 };
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as { model?: string; stream?: boolean; messages?: { role: string; content: unknown }[] };
    this.received.push(body);
    if (this.failStatus !== undefined) {
      res.writeHead(this.failStatus, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'replica broken', type: 'server_error', param: null, code: null } }));
      return;
    }
    const promptText = (body.messages ?? []).map((m) => `${m.role}\n${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}\n`).join('');
    const job: Job = { promptText, promptTokens: Math.ceil(promptText.length / CHARS_PER_TOKEN), stream: body.stream === true, model: body.model ?? 'fake', res, aborted: false };
    res.once('close', () => {
      if (!res.writableFinished) job.aborted = true;
    });
    this.waiting.push(job);
    this.notePeaks();
    this.schedule();
  }

  private schedule(): void {
    while (this.running < this.options.batchCapacity && this.waiting.length > 0) {
      const job = this.waiting.shift() as Job;
      if (job.aborted) continue;
      this.running++;
      void this.run(job);
    }
  }

  private async run(job: Job): Promise<void> {
    const { speed } = this.options;
    const cached = this.lookupAndStore(job.promptText);
    const uncachedTokens = Math.max(0, job.promptTokens - cached);
    this.stats.requests++;
    this.stats.promptTokens += job.promptTokens;
    this.stats.cachedTokens += Math.min(cached, job.promptTokens);
    // Prefill waits for the compute lane, then holds it for the uncached part of the prompt.
    const now = performance.now();
    const start = Math.max(now, this.prefillBusyUntil);
    const prefillMs = (uncachedTokens * this.options.prefillMsPerToken) / speed;
    this.prefillBusyUntil = start + prefillMs;
    if (start > now) {
      this.prefillPending++;
      this.notePeaks();
      await sleep(start - now);
      this.prefillPending--;
    }
    this.notePeaks();
    await sleep(prefillMs);
    const id = `chatcmpl-fake-${this.stats.requests}`;
    const created = Math.floor(Date.now() / 1000);
    const output = this.options.outputTokens;
    const usage = { prompt_tokens: job.promptTokens, completion_tokens: output, total_tokens: job.promptTokens + output, prompt_tokens_details: { cached_tokens: cached } };
    try {
      if (!job.stream) {
        await sleep((output * this.options.decodeMsPerToken) / speed);
        if (job.aborted) return;
        job.res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created,
            model: job.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'tok '.repeat(output).trim() }, finish_reason: 'stop', logprobs: null }],
            usage,
          }),
        );
        return;
      }
      job.res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: job.model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })}\n\n`;
      job.res.write(chunk({ role: 'assistant', content: '' }, null));
      for (let sent = 0; sent < output && !job.aborted; sent += this.options.tokensPerChunk) {
        const n = Math.min(this.options.tokensPerChunk, output - sent);
        await sleep((n * this.options.decodeMsPerToken) / speed);
        job.res.write(chunk({ content: 'tok '.repeat(n) }, null));
      }
      if (job.aborted) return;
      job.res.write(chunk({}, 'stop'));
      job.res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: job.model, choices: [], usage })}\n\n`);
      job.res.end('data: [DONE]\n\n');
    } finally {
      this.running--;
      this.schedule();
    }
  }

  private notePeaks(): void {
    this.stats.peakWaiting = Math.max(this.stats.peakWaiting, this.waiting.length + this.prefillPending);
    this.stats.peakRunning = Math.max(this.stats.peakRunning, this.running - this.prefillPending);
  }

  /** Cached prompt tokens for this prompt (whole leading blocks), and the prompt's blocks remembered. */
  private lookupAndStore(text: string): number {
    let hash = 5381;
    let matched = 0;
    let stillMatching = true;
    const blocks = Math.floor(text.length / BLOCK_CHARS);
    for (let b = 0; b < blocks; b++) {
      for (let i = b * BLOCK_CHARS; i < (b + 1) * BLOCK_CHARS; i++) hash = (Math.imul(hash, 33) + text.charCodeAt(i)) | 0;
      const key = hash >>> 0;
      if (stillMatching && this.cache.has(key)) matched++;
      else stillMatching = false;
      this.cache.delete(key);
      this.cache.set(key, true);
    }
    while (this.cache.size > this.options.cacheBlocks) this.cache.delete(this.cache.keys().next().value as number);
    return (matched * BLOCK_CHARS) / CHARS_PER_TOKEN;
  }

  private load(): { running: number; waiting: number; kvUsage: number } {
    const kvUsage = Math.min(1, (this.cache.size * (BLOCK_CHARS / CHARS_PER_TOKEN)) / this.options.kvTokens);
    return {
      running: this.reported.running ?? this.running - this.prefillPending,
      waiting: this.reported.waiting ?? this.waiting.length + this.prefillPending,
      kvUsage: this.reported.kvUsage ?? kvUsage,
    };
  }

  /** The /metrics page in the imitated engine's own format. */
  metricsText(): string {
    const { running, waiting, kvUsage } = this.load();
    switch (this.options.engine) {
      case 'vllm': {
        const l = '{engine="0",model_name="fake-model"}';
        return [
          '# HELP vllm:num_requests_running Number of requests in model execution batches.',
          '# TYPE vllm:num_requests_running gauge',
          `vllm:num_requests_running${l} ${running.toFixed(1)}`,
          '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
          '# TYPE vllm:num_requests_waiting gauge',
          `vllm:num_requests_waiting${l} ${waiting.toFixed(1)}`,
          '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
          '# TYPE vllm:kv_cache_usage_perc gauge',
          `vllm:kv_cache_usage_perc${l} ${kvUsage}`,
          '# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.',
          '# TYPE vllm:prefix_cache_queries_total counter',
          `vllm:prefix_cache_queries_total${l} ${this.stats.promptTokens.toFixed(1)}`,
          '# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.',
          '# TYPE vllm:prefix_cache_hits_total counter',
          `vllm:prefix_cache_hits_total${l} ${this.stats.cachedTokens.toFixed(1)}`,
          '# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.',
          '# TYPE vllm:time_to_first_token_seconds histogram',
          `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="fake-model"} 0.0`,
          `vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="fake-model"} ${this.stats.requests}.0`,
          '',
        ].join('\n');
      }
      case 'sglang': {
        const l = '{model_name="fake-model",tp_rank="0",dp_rank="0"}';
        return [
          '# HELP sglang:num_running_reqs The number of running requests.',
          '# TYPE sglang:num_running_reqs gauge',
          `sglang:num_running_reqs${l} ${running.toFixed(1)}`,
          '# HELP sglang:num_queue_reqs The number of requests in the waiting queue.',
          '# TYPE sglang:num_queue_reqs gauge',
          `sglang:num_queue_reqs${l} ${waiting.toFixed(1)}`,
          '# HELP sglang:token_usage The token usage.',
          '# TYPE sglang:token_usage gauge',
          `sglang:token_usage${l} ${kvUsage}`,
          '# HELP sglang:cache_hit_rate The prefix cache hit rate.',
          '# TYPE sglang:cache_hit_rate gauge',
          `sglang:cache_hit_rate${l} ${this.stats.promptTokens ? this.stats.cachedTokens / this.stats.promptTokens : 0}`,
          '',
        ].join('\n');
      }
      case 'tgi':
        return [
          '# TYPE tgi_queue_size gauge',
          `tgi_queue_size ${waiting}`,
          '# TYPE tgi_batch_current_size gauge',
          `tgi_batch_current_size ${running}`,
          '# TYPE tgi_batch_current_max_tokens gauge',
          `tgi_batch_current_max_tokens ${running * 512}`,
          '# TYPE tgi_request_count counter',
          `tgi_request_count ${this.stats.requests}`,
          '',
        ].join('\n');
      case 'llamacpp':
        return [
          '# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.',
          '# TYPE llamacpp:prompt_tokens_total counter',
          `llamacpp:prompt_tokens_total ${this.stats.promptTokens}`,
          '# HELP llamacpp:kv_cache_usage_ratio KV-cache usage. 1 means 100 percent usage.',
          '# TYPE llamacpp:kv_cache_usage_ratio gauge',
          `llamacpp:kv_cache_usage_ratio ${kvUsage}`,
          '# HELP llamacpp:requests_processing Number of requests processing.',
          '# TYPE llamacpp:requests_processing gauge',
          `llamacpp:requests_processing ${running}`,
          '# HELP llamacpp:requests_deferred Number of requests deferred.',
          '# TYPE llamacpp:requests_deferred gauge',
          `llamacpp:requests_deferred ${waiting}`,
          '',
        ].join('\n');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
