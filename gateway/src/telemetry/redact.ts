/**
 * Secret redaction for anything that leaves the process as text (logged bodies on traces, log lines):
 * values under secret-looking keys, and strings that look like API keys or bearer tokens.
 */
const SECRET_KEY = /^(authorization|api[-_]?key|x-api-key|password|secret|token|access[-_]?token|refresh[-_]?token|client[-_]?secret)$/i;
const SECRET_VALUE = /\b(sk-[A-Za-z0-9_-]{12,}|sk-ant-[A-Za-z0-9_-]{12,}|AIza[0-9A-Za-z_-]{20,}|Bearer\s+[A-Za-z0-9._~+/-]{12,}=*)/g;

export const REDACTED = '[redacted]';

export function redactText(text: string): string {
  return text.replace(SECRET_VALUE, REDACTED);
}

export function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(child);
    return out;
  }
  return value;
}

/** JSON of `value`, secrets redacted, cut to `maxBytes` characters (marked when cut). */
export function redactedJson(value: unknown, maxBytes: number): string {
  const text = JSON.stringify(redactValue(value)) ?? '';
  return text.length > maxBytes ? `${text.slice(0, maxBytes)}…[truncated ${text.length - maxBytes} chars]` : text;
}
