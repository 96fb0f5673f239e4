/**
 * A guardrail as the request path runs it, compiled once from config (policy/compile-guardrails.ts).
 * Four shapes, by what they read:
 *
 * - text: finds spans in text (regex, words, pii, secrets) and denies, redacts or flags them;
 * - size: reads the prompt's size (input only);
 * - schema: reads the whole answer (output only) and may ask for it again (retry, fallback);
 * - webhook: sends the texts to the operator's service, which decides.
 */
import type { JsonObject } from '../providers/types.js';
import type { RequestFacts } from '../routing/request-facts.js';
import type { FoldedText } from './folded-text.js';
import type { GuardrailStage } from './verdict.js';

export type StreamMode = 'buffer' | 'incremental';

interface Base {
  readonly name: string;
  /** How an output check treats a stream: hold the whole answer, or check it as it passes. */
  readonly stream: StreamMode;
}

export interface TextGuardrail extends Base {
  readonly kind: 'text';
  readonly action: 'deny' | 'redact' | 'flag';
  /**
   * Trailing characters of the folded text (folded-text.ts) a stream keeps back so a match is recognised
   * before any of it is sent.
   */
  readonly holdback: number;
  /**
   * Reads the folded text (folded once per text, shared by every guardrail that reads it) and calls
   * `found` for every match: its span in the original text and what it is (`email`, `openai_key`,
   * `pattern_0`, `word`).
   */
  scan(text: FoldedText, found: (start: number, end: number, label: string) => void): void;
  /** The text a redacted match becomes. */
  replacement(label: string): string;
}

export interface SizeGuardrail extends Base {
  readonly kind: 'size';
  readonly action: 'deny' | 'flag';
  /** What is over the limit (`prompt_tokens 9120 > 8000`), or undefined. */
  check(facts: RequestFacts): string | undefined;
}

export interface SchemaGuardrail extends Base {
  readonly kind: 'schema';
  readonly action: 'retry' | 'fallback' | 'deny' | 'flag';
  readonly maxRetries: number;
  /** Why the answer text does not fit the schema, or undefined when it does (or there is no schema to apply). */
  check(answerText: string, request: JsonObject): string | undefined;
}

export interface WebhookRequest {
  guardrail: string;
  stage: GuardrailStage;
  route: string;
  key_id: string;
  user: string;
  metadata: Readonly<Record<string, string>>;
  texts: string[];
}

export type WebhookVerdict =
  | { ok: true; verdict: 'pass' | 'flag' | 'deny' | 'redact'; reason: string; texts: string[] | undefined }
  | { ok: false; failure: string };

export interface WebhookGuardrail extends Base {
  readonly kind: 'webhook';
  readonly failMode: 'open' | 'closed';
  call(request: WebhookRequest, signal: AbortSignal | undefined): Promise<WebhookVerdict>;
  close(): Promise<void>;
}

export type Guardrail = TextGuardrail | SizeGuardrail | SchemaGuardrail | WebhookGuardrail;
