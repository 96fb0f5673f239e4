/**
 * What each model server's Prometheus endpoint says about its load, read into one shape: requests
 * running, requests waiting (the engine's queue), and KV-cache utilisation (0–1) where the engine
 * reports it. Every metric name below is the engine's own, taken from its source or docs:
 *
 * - vLLM (V1 engine) — vllm-project/vllm, vllm/v1/metrics/loggers.py (PrometheusStatLogger, read at
 *   commit 005a810bc40f): gauges `vllm:num_requests_running` ("Number of requests in model execution
 *   batches"), `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` (1 = 100%) and, before 0.9 and
 *   still emitted as deprecated after it, `vllm:gpu_cache_usage_perc`; counters
 *   `vllm:prefix_cache_queries` / `vllm:prefix_cache_hits` (tokens; exposed with a `_total` suffix).
 *   Labels `model_name` and `engine` (one series per data-parallel engine: we sum them).
 * - SGLang — sgl-project/sglang, python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector) and
 *   docs/references/production_metrics.md: gauges `sglang:num_running_reqs`, `sglang:num_queue_reqs`
 *   ("The number of requests in the waiting queue"), `sglang:token_usage` (KV pool use, 0–1),
 *   `sglang:cache_hit_rate`. Served only with `--enable-metrics`.
 * - TGI — huggingface/text-generation-inference, docs/source/reference/metrics.md (commit 53fdbe617d4f):
 *   gauges `tgi_queue_size` ("Current queue size") and `tgi_batch_current_size` ("Current batch size").
 *   TGI reports no KV-cache utilisation.
 * - llama.cpp server — ggml-org/llama.cpp, tools/server/README.md ("GET /metrics", needs `--metrics`):
 *   gauges `llamacpp:requests_processing`, `llamacpp:requests_deferred` (waiting for a free slot) and,
 *   in the builds that still have it, `llamacpp:kv_cache_usage_ratio` (later builds dropped it).
 */
import { sumMetrics } from './prometheus-text.js';

export type EngineKind = 'vllm' | 'sglang' | 'tgi' | 'llamacpp';

/** One scrape's reading of a replica's load. `kvUsage` is undefined when the engine does not report it. */
export interface EngineLoad {
  running: number;
  waiting: number;
  kvUsage: number | undefined;
}

interface EngineMetricNames {
  running: string;
  waiting: string;
  /** In order of preference: the first one present is used. */
  kvUsage: readonly string[];
}

export const ENGINE_METRICS: Readonly<Record<EngineKind, EngineMetricNames>> = {
  vllm: { running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kvUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'] },
  sglang: { running: 'sglang:num_running_reqs', waiting: 'sglang:num_queue_reqs', kvUsage: ['sglang:token_usage'] },
  tgi: { running: 'tgi_batch_current_size', waiting: 'tgi_queue_size', kvUsage: [] },
  llamacpp: { running: 'llamacpp:requests_processing', waiting: 'llamacpp:requests_deferred', kvUsage: ['llamacpp:kv_cache_usage_ratio'] },
};

const ENGINES = Object.keys(ENGINE_METRICS) as EngineKind[];

const WANTED: ReadonlySet<string> = new Set(
  ENGINES.flatMap((engine) => {
    const names = ENGINE_METRICS[engine];
    return [names.running, names.waiting, ...names.kvUsage];
  }),
);

/**
 * Reads a /metrics page. With `engine` undefined (auto), the engine is whichever one's running and
 * waiting gauges are both on the page. Returns undefined when the page has no known engine's gauges.
 */
export function readEngineLoad(text: string, engine: EngineKind | undefined): { engine: EngineKind; load: EngineLoad } | undefined {
  const sums = sumMetrics(text, WANTED);
  const candidates = engine ? [engine] : ENGINES;
  for (const kind of candidates) {
    const names = ENGINE_METRICS[kind];
    const running = sums.get(names.running);
    const waiting = sums.get(names.waiting);
    if (running === undefined || waiting === undefined) continue;
    let kvUsage: number | undefined;
    for (const name of names.kvUsage) {
      const value = sums.get(name);
      if (value !== undefined) {
        // Several engines behind one server (vLLM data parallel) each report their own cache: the mean.
        kvUsage = Math.min(1, Math.max(0, value.sum / value.count));
        break;
      }
    }
    // Queues and batches add up across engines.
    return { engine: kind, load: { running: Math.max(0, running.sum), waiting: Math.max(0, waiting.sum), kvUsage } };
  }
  return undefined;
}
