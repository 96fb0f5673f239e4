/**
 * The one log line per request, made from its trace row by the trace worker — off the event loop that
 * serves requests. The line is what pino writes for `log.info({...}, 'request')`: the same level, time,
 * pid and hostname keys, then the request's fields. Nothing secret is in a trace row's fields used here
 * (ids, names from config or validated input, numbers), so no redaction pass is needed.
 */
import type { TraceRow } from './trace-row.js';

/** pino's numeric level for info. */
const INFO = 30;

/** The fixed start of every line, after level and time: pino's `base` (pid, hostname). */
export function logLinePrefix(pid: number, hostname: string): string {
  return `,"pid":${pid},"hostname":${JSON.stringify(hostname)}`;
}

const text = (name: string, value: string): string => (value === '' ? '' : `,"${name}":${JSON.stringify(value)}`);

export function requestLogLine(row: TraceRow, prefix: string): string {
  // The line's time is when the request ended, as it was when the gateway logged it there.
  const time = Math.round(row.ts_ms + row.latency_ms);
  return (
    `{"level":${INFO},"time":${time}${prefix},"reqId":${JSON.stringify(row.trace_id)}` +
    text('clientRequestId', row.client_request_id) +
    text('route', row.route) +
    text('provider', row.provider) +
    text('model', row.model) +
    `,"status":${row.status}` +
    text('code', row.error_code) +
    `,"latencyMs":${row.latency_ms},"upstreamMs":${row.upstream_ms}` +
    (row.ttft_ms === null ? '' : `,"ttftMs":${row.ttft_ms}`) +
    `,"attempts":${row.attempts},"cache":${JSON.stringify(row.cache)},"stream":${row.stream === 1}` +
    `,"inputTokens":${row.input_tokens},"outputTokens":${row.output_tokens},"msg":"request"}\n`
  );
}
