/**
 * The `webhook` guardrail: the operator's own HTTP service decides. The gateway POSTs
 *
 *   {"guardrail", "stage": "input" | "output", "route", "key_id", "user", "metadata", "texts": [...]}
 *
 * and expects, within `timeoutMs`, a 2xx JSON answer
 *
 *   {"verdict": "pass" | "flag" | "deny" | "redact", "reason"?: string, "texts"?: [...]}
 *
 * where `texts` (for redact) replaces the texts sent, one for one. Anything else — a timeout, a refused
 * or reset connection, a non-2xx status, a body that is not that JSON — is a failure, and the
 * guardrail's declared `failMode` decides: `open` lets the request through, `closed` refuses it.
 *
 * The `reason` is the operator's service's text, repeated to the client (in a deny's message) and on the
 * trace: it may quote what it checked, or echo how it was called. It is kept to one line of at most 200
 * characters, with credentials the secret detectors recognise replaced (`[GITHUB_TOKEN]`) and every
 * secret the gateway holds removed.
 */
import { Agent } from 'undici';
import type { GuardrailConfig } from '../config/guardrail-schema.js';
import { transportErrorCode } from '../upstream/transport-errors.js';
import { SECRET_CATALOGUE, selectDetectors } from './detectors/catalogue.js';
import type { WebhookGuardrail, WebhookRequest, WebhookVerdict } from './guardrail.js';
import { mergeOverlaps, redact, type Span } from './redaction.js';
import { foldText } from './folded-text.js';

type WebhookConfig = Extract<GuardrailConfig, { kind: 'webhook' }>;

/** Answers are small; a service that sends more is treated as broken. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const VERDICTS = new Set(['pass', 'flag', 'deny', 'redact']);
const MAX_REASON_CHARS = 200;
const CREDENTIALS = selectDetectors(SECRET_CATALOGUE, []);

/** Removes the secrets the gateway holds from a text (the secret scrubber's). */
export type Scrub = (text: string) => string;

export function compileWebhookGuardrail(name: string, config: WebhookConfig, scrub: Scrub): WebhookGuardrail {
  const url = new URL(config.url);
  const agent = new Agent({
    connections: config.maxConnections,
    connect: { timeout: config.timeoutMs },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    keepAliveTimeout: 30_000,
  });
  const headers = { ...config.headers, 'content-type': 'application/json' };
  return {
    kind: 'webhook',
    name,
    stream: 'buffer',
    failMode: config.failMode,
    async call(request: WebhookRequest, signal: AbortSignal | undefined): Promise<WebhookVerdict> {
      // The whole exchange — connect, headers, body — within the timeout, and never past the client leaving.
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const abort = signal ? AbortSignal.any([signal, deadline]) : deadline;
      try {
        const response = await agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'POST',
          headers,
          body: JSON.stringify(request),
          signal: abort,
        });
        const text = await readLimited(response.body);
        if (response.statusCode < 200 || response.statusCode >= 300) return { ok: false, failure: `status ${response.statusCode}` };
        return parseVerdict(text, request.texts.length, scrub);
      } catch (error) {
        if (deadline.aborted) return { ok: false, failure: 'timeout' };
        if (signal?.aborted) return { ok: false, failure: 'client gone' };
        return { ok: false, failure: `unreachable (${transportErrorCode(error) ?? 'error'})` };
      }
    },
    close: () => agent.close(),
  };
}

function parseVerdict(text: string | undefined, textCount: number, scrub: Scrub): WebhookVerdict {
  if (text === undefined) return { ok: false, failure: 'answer too large' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, failure: 'answer is not JSON' };
  }
  if (typeof body !== 'object' || body === null) return { ok: false, failure: 'answer is not an object' };
  const { verdict, reason, texts } = body as { verdict?: unknown; reason?: unknown; texts?: unknown };
  if (typeof verdict !== 'string' || !VERDICTS.has(verdict)) return { ok: false, failure: 'answer has no known verdict' };
  if (verdict === 'redact' && !(Array.isArray(texts) && texts.length === textCount && texts.every((t) => typeof t === 'string'))) {
    return { ok: false, failure: 'redact without one text per text sent' };
  }
  return {
    ok: true,
    verdict: verdict as 'pass' | 'flag' | 'deny' | 'redact',
    reason: typeof reason === 'string' ? cleanReason(reason, scrub) : '',
    texts: verdict === 'redact' ? (texts as string[]) : undefined,
  };
}

/**
 * The service's reason as the gateway repeats it: one line, folded, credentials and secrets out, bounded. The
 * whole reason is cleaned before it is cut (it is at most the answer's 1 MB): cut first, a credential
 * behind a run of line breaks that collapse to one space would be cut before it was recognised.
 */
export function cleanReason(reason: string, scrub: Scrub): string {
  // Folded as the checks read text (NFKC, invisible characters out): a key with zero-width spaces between
  // its characters is still a key.
  const line = foldText(reason.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ')).text.trim();
  const spans: Span[] = [];
  for (const detector of CREDENTIALS) detector.scan(line, (start, end) => spans.push({ start, end, label: detector.name }));
  const clean = scrub(redact(line, mergeOverlaps(spans), (label) => `[${label.toUpperCase()}]`));
  return clean.length <= MAX_REASON_CHARS ? clean : clean.slice(0, MAX_REASON_CHARS).replace(/[\uD800-\uDBFF]$/, '');
}

/** The body as text, or undefined past the limit (leaving the loop early closes the stream). */
async function readLimited(body: AsyncIterable<Buffer>): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
