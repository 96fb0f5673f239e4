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

/**
 * JSON of `value`, secrets redacted, cut (and marked) so that it takes at most `maxBytes` as it is
 * stored: a string inside the row's JSON, UTF-8 encoded, quotes and control characters escaped. (A
 * body of `"` doubles when escaped, one of control characters grows six times; counting characters let
 * a 10 MB body become a 39 MB row that no store would take.)
 */
export function redactedJson(value: unknown, maxBytes: number): string {
  const text = JSON.stringify(redactValue(value)) ?? '';
  const cut = escapedCut(text, maxBytes);
  return cut === text.length ? text : `${text.slice(0, cut)}…[truncated ${text.length - cut} chars]`;
}

/** Where to cut `text` so that, as JSON string content in UTF-8, it takes at most `maxBytes`. */
export function escapedCut(text: string, maxBytes: number): number {
  // No character takes more than six bytes escaped.
  if (text.length * 6 <= maxBytes) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let size: number;
    let units = 1;
    if (code === 0x22 || code === 0x5c) size = 2;
    else if (code < 0x20) size = code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6;
    else if (code < 0x80) size = 1;
    else if (code < 0x800) size = 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      size = 4;
      units = 2;
    } else if (code >= 0xd800 && code <= 0xdfff) size = 6; // a lone surrogate, written as \uXXXX
    else size = 3;
    if (bytes + size > maxBytes) return i;
    bytes += size;
    i += units - 1;
  }
  return text.length;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
