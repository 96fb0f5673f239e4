/** Builds trace rows for sink tests, and reads a gateway's stored rows. */
import type { GatewayApp } from '../../src/app.js';
import type { TraceRow } from '../../src/telemetry/trace-row.js';

/** The stored row (recording can lag the reply, e.g. while the tokenizer loads for a first estimate). */
export async function storedTrace(app: GatewayApp, id: string): Promise<TraceRow> {
  for (let i = 0; i < 100; i++) {
    await app.traces!.flush();
    const row = await app.traces!.sink.getTrace(id);
    if (row) return row;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no trace ${id}`);
}

export function traceRow(overrides: Partial<TraceRow> = {}): TraceRow {
  return {
    trace_id: `t-${Math.random().toString(36).slice(2)}`,
    client_request_id: '',
    ts_ms: Date.now(),
    key_id: '',
    route: 'chat',
    operation: 'chat',
    provider: 'p',
    model: 'm',
    requested_model: 'chat',
    variant: '',
    stream: 0,
    status: 200,
    error_code: '',
    latency_ms: 12.5,
    upstream_ms: 11,
    ttft_ms: null,
    attempts: 1,
    retries: 0,
    fallbacks: 0,
    cache: 'MISS',
    input_tokens: 10,
    output_tokens: 5,
    usage_estimated: 0,
    cost_usd: 0.001,
    user: 'u',
    metadata_keys: ['team'],
    metadata_values: ['ml'],
    request_body: '',
    response_body: '',
    replica: '',
    replica_reason: '',
    replica_score: 0,
    prefix_match_chars: 0,
    queue_ms: 0,
    branch: '',
    guardrail_names: [],
    guardrail_stages: [],
    guardrail_verdicts: [],
    guardrail_findings: [],
    guardrail_trips: 0,
    ...overrides,
  };
}
