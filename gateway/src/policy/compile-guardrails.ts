/**
 * Turns the `guardrails:` section into runnable guardrails (once, at start), and builds each route's
 * policy from the global attachment (`routing.guardrails`) followed by the route's own.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../cache/cache-key.js';
import type { GuardrailAttachment, GuardrailConfig } from '../config/guardrail-schema.js';
import type { JsonObject } from '../providers/types.js';
import { promptChars, promptTokensOf } from '../routing/request-facts.js';
import type { Guardrail, SchemaGuardrail, SizeGuardrail } from './guardrail.js';
import { PII_CATALOGUE, SECRET_CATALOGUE, selectDetectors } from './detectors/catalogue.js';
import { compileJsonSchema, requestSchemaCheck, type SchemaCheck } from './json-schema.js';
import { compileTextGuardrail } from './text-guardrails.js';
import { compileWebhookGuardrail, type Scrub } from './webhook-guardrail.js';

/** What one route runs: its input checks, its output checks, and how streams are checked. */
export interface RoutePolicy {
  readonly input: readonly Guardrail[];
  readonly output: readonly Guardrail[];
  /** Some output check needs the whole answer: streams are read whole before any of them is sent. */
  readonly bufferStreams: boolean;
  /**
   * The checks read the request's text, rewrite it or read answers, so requests are served translated
   * (never passed through in a provider's native dialect): every check then sees the one canonical
   * request and answer, and what goes upstream is exactly what was checked. A native body carries what
   * the translation leaves out (an Anthropic `search_result` block, a Responses `custom_tool_call_output`
   * item…), so passing it through would send text no check has seen.
   */
  readonly canonicalOnly: boolean;
  /**
   * What the output checks are — names, settings, the detectors they run — hashed (empty without output
   * checks). Cached answers are kept apart by it: an answer checked under other output checks (stored
   * before a deploy that changed them, in a Redis that outlived it) is never served unchecked.
   */
  readonly outputFingerprint: string;
}

export class GuardrailSet {
  private readonly byName = new Map<string, Guardrail>();

  /** `scrub` removes the secrets the gateway holds from text an operator's service wrote (a webhook's reason). */
  constructor(
    private readonly config: Readonly<Record<string, GuardrailConfig>>,
    scrub: Scrub = (text) => text,
  ) {
    for (const [name, guardrail] of Object.entries(config)) this.byName.set(name, compileGuardrail(name, guardrail, scrub));
  }

  get size(): number {
    return this.byName.size;
  }

  /** The policy for a route, or undefined when nothing applies (the request path then has no policy step). */
  policyFor(global: GuardrailAttachment | undefined, route: GuardrailAttachment | undefined): RoutePolicy | undefined {
    const pick = (stage: 'input' | 'output'): Guardrail[] => {
      // A guardrail attached globally and to the route runs once.
      const names = [...new Set([...(global?.[stage] ?? []), ...(route?.[stage] ?? [])])];
      return names.map((name) => {
        const guardrail = this.byName.get(name);
        if (!guardrail) throw new Error(`unknown guardrail '${name}'`);
        return guardrail;
      });
    };
    const input = pick('input');
    const output = pick('output');
    if (input.length === 0 && output.length === 0) return undefined;
    // Only a size limit can judge a native body by its canonical form (it reads how much, not what).
    const readsInput = input.some((guardrail) => guardrail.kind !== 'size');
    return {
      input,
      output,
      bufferStreams: output.some((guardrail) => guardrail.stream === 'buffer'),
      canonicalOnly: output.length > 0 || readsInput,
      outputFingerprint: this.fingerprint(output.map((guardrail) => guardrail.name)),
    };
  }

  private fingerprint(names: readonly string[]): string {
    if (names.length === 0) return '';
    const described = names.map((name) => {
      const config = this.config[name] as GuardrailConfig;
      // "All detectors" means more of them after an upgrade that adds one.
      const detectors =
        config.kind === 'pii' || config.kind === 'secrets'
          ? selectDetectors(config.kind === 'pii' ? PII_CATALOGUE : SECRET_CATALOGUE, config.detectors).map((d) => d.name)
          : undefined;
      return { name, config, detectors };
    });
    return createHash('sha256').update(canonicalJson(described)).digest('base64url').slice(0, 22);
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((guardrail) => (guardrail.kind === 'webhook' ? guardrail.close() : undefined)));
  }
}

function compileGuardrail(name: string, config: GuardrailConfig, scrub: Scrub): Guardrail {
  switch (config.kind) {
    case 'size':
      return compileSize(name, config);
    case 'json_schema':
      return compileSchema(name, config);
    case 'webhook':
      return compileWebhookGuardrail(name, config, scrub);
    default:
      return compileTextGuardrail(name, config);
  }
}

function compileSize(name: string, config: Extract<GuardrailConfig, { kind: 'size' }>): SizeGuardrail {
  return {
    kind: 'size',
    name,
    stream: 'incremental',
    action: config.action,
    check(facts) {
      if (config.maxPromptTokens !== undefined) {
        const tokens = promptTokensOf(facts);
        if (tokens > config.maxPromptTokens) return `prompt_tokens ${tokens} > ${config.maxPromptTokens}`;
      }
      if (config.maxChars !== undefined) {
        const chars = promptChars(facts.body);
        if (chars > config.maxChars) return `chars ${chars} > ${config.maxChars}`;
      }
      const messages = facts.body.messages;
      if (config.maxMessages !== undefined && Array.isArray(messages) && messages.length > config.maxMessages) {
        return `messages ${messages.length} > ${config.maxMessages}`;
      }
      return undefined;
    },
  };
}

function compileSchema(name: string, config: Extract<GuardrailConfig, { kind: 'json_schema' }>): SchemaGuardrail {
  const fixed = config.schema === 'request' ? undefined : compileJsonSchema(config.schema);
  return {
    kind: 'schema',
    name,
    stream: 'buffer',
    action: config.action,
    maxRetries: config.maxRetries,
    check(answerText, request) {
      const check = fixed ?? schemaOfRequest(request);
      if (!check) return undefined;
      let value: unknown;
      try {
        value = JSON.parse(answerText);
      } catch {
        return 'the answer is not JSON';
      }
      return check(value);
    },
  };
}

/** `response_format: {type: "json_schema", json_schema: {schema}}` of the request, compiled; undefined when it names none. */
function schemaOfRequest(request: JsonObject): SchemaCheck | undefined {
  const format = request.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  const schema = format?.type === 'json_schema' ? format.json_schema?.schema : undefined;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  const check = requestSchemaCheck(schema as Record<string, unknown>);
  // A schema the validator cannot compile is the upstream's to refuse, not this guardrail's.
  return typeof check === 'string' ? undefined : check;
}
