/**
 * Guardrails in config: named checks (`guardrails:`), attached as input and/or output checks to every
 * request (`routing.guardrails`) or to a route (`routes.<name>.guardrails`). Each is validated whole at
 * load — patterns, detector names, JSON schemas, where it may be attached — with every problem reported.
 */
import { z } from 'zod';
import { linearRegexProblems, MAX_PROGRAM_SIZE } from '../policy/linear-regex.js';
import { maxRegexProgramSize } from '../policy/text-guardrails.js';
import { detectorNames, PII_CATALOGUE, SECRET_CATALOGUE } from '../policy/detectors/catalogue.js';
import { jsonSchemaProblems } from '../policy/json-schema.js';

export const GUARDRAIL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const textAction = z.enum(['deny', 'redact', 'flag']);
/** How an output check treats a stream: see the README ("Streams"). */
const streamMode = z.enum(['buffer', 'incremental']);

const textFields = {
  action: textAction,
  /** What replaces a redacted match; `{type}` becomes the detector's name in capitals (`[EMAIL]`). */
  replacement: z.string().max(200).optional(),
  stream: streamMode.optional(),
};

function patternList(flags: string, maxMatchChars: number) {
  const maxProgramSize = maxRegexProgramSize(maxMatchChars);
  const why = maxProgramSize < MAX_PROGRAM_SIZE ? ` with maxMatchChars ${maxMatchChars}` : '';
  return z
    .array(z.string().min(1))
    .min(1)
    .superRefine((patterns, ctx) => {
      patterns.forEach((pattern, index) => {
        for (const message of linearRegexProblems(pattern, flags, maxProgramSize, why)) ctx.addIssue({ code: 'custom', message, path: [index] });
      });
    });
}

function detectorList(catalogue: ReadonlyMap<string, unknown> & Parameters<typeof detectorNames>[0]) {
  const names = detectorNames(catalogue);
  return z.array(z.enum(names as [string, ...string[]])).default([]);
}

const regexGuardrail = z
  .strictObject({
    kind: z.literal('regex'),
    patterns: z.array(z.string()).min(1),
    /** JavaScript regular-expression flags among i, m, s, u. */
    flags: z.string().default(''),
    /** Longest match a pattern can make: text is scanned in windows overlapping by this much, and streams hold it back. */
    maxMatchChars: z.number().int().min(1).max(4096).default(256),
    ...textFields,
  })
  .superRefine((value, ctx) => {
    const result = patternList(value.flags, value.maxMatchChars).safeParse(value.patterns);
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: ['patterns', ...issue.path] });
  });

const wordsGuardrail = z.strictObject({
  kind: z.literal('words'),
  /** Words or phrases, matched whole (not inside longer words). */
  words: z.array(z.string().min(1).max(200)).min(1).max(10_000),
  caseSensitive: z.boolean().default(false),
  ...textFields,
});

const piiGuardrail = z.strictObject({
  kind: z.literal('pii'),
  /** Which detectors (empty: all of them); `national_id` stands for every national id detector. */
  detectors: detectorList(PII_CATALOGUE),
  ...textFields,
});

const secretsGuardrail = z.strictObject({
  kind: z.literal('secrets'),
  detectors: detectorList(SECRET_CATALOGUE),
  ...textFields,
});

const sizeGuardrail = z
  .strictObject({
    kind: z.literal('size'),
    /** Estimated prompt tokens (characters / 4 plus message framing). */
    maxPromptTokens: z.number().int().positive().optional(),
    /** Characters of text in the prompt. */
    maxChars: z.number().int().positive().optional(),
    maxMessages: z.number().int().positive().optional(),
    action: z.enum(['deny', 'flag']),
  })
  .refine((value) => value.maxPromptTokens !== undefined || value.maxChars !== undefined || value.maxMessages !== undefined, {
    message: 'set at least one of maxPromptTokens, maxChars, maxMessages',
  });

const jsonSchemaGuardrail = z
  .strictObject({
    kind: z.literal('json_schema'),
    /** A JSON Schema the answer (its text, parsed as JSON) must satisfy, or `request`: the schema the request's own `response_format` names. */
    schema: z.union([z.literal('request'), z.record(z.string(), z.unknown())]),
    /** retry: ask the same target again; fallback: move on to the route's next target; deny; flag. */
    action: z.enum(['retry', 'fallback', 'deny', 'flag']),
    /** Answers asked again (retry) or targets tried (fallback) at most, before the request is denied. */
    maxRetries: z.number().int().min(1).max(5).default(1),
    stream: z.literal('buffer').default('buffer'),
  })
  .superRefine((value, ctx) => {
    if (value.schema === 'request') return;
    for (const message of jsonSchemaProblems(value.schema)) ctx.addIssue({ code: 'custom', message, path: ['schema'] });
  });

const webhookGuardrail = z.strictObject({
  kind: z.literal('webhook'),
  /** POSTed the texts to check; answers {verdict: pass | flag | redact | deny, reason?, texts?}. */
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string().min(1), z.string()).default({}),
  timeoutMs: z.number().int().positive().max(60_000).default(1000),
  /** What a timeout, a refused connection, an error status or an unreadable answer means: let the request through (`open`) or refuse it (`closed`). */
  failMode: z.enum(['open', 'closed']),
  maxConnections: z.number().int().positive().default(32),
  stream: z.literal('buffer').default('buffer'),
});

export const guardrailSchema = z.discriminatedUnion('kind', [
  regexGuardrail,
  wordsGuardrail,
  piiGuardrail,
  secretsGuardrail,
  sizeGuardrail,
  jsonSchemaGuardrail,
  webhookGuardrail,
]);

export const guardrailsSchema = z.record(z.string().regex(GUARDRAIL_NAME, 'guardrail names use letters, digits, _ . - (at most 64)'), guardrailSchema).default({});

/** Where guardrails run: on the request before any upstream call, on the answer before the client sees it. */
export const guardrailAttachmentSchema = z.strictObject({
  input: z.array(z.string().min(1)).default([]),
  output: z.array(z.string().min(1)).default([]),
});

export type GuardrailConfig = z.infer<typeof guardrailSchema>;
export type GuardrailAttachment = z.infer<typeof guardrailAttachmentSchema>;

interface Problem {
  path: (string | number)[];
  message: string;
}

/**
 * Cross-field checks: an attachment names guardrails that exist, each where its kind can run (a size
 * limit reads the prompt, a schema the answer, retry and fallback are answers' actions), and an
 * incremental stream check only where one can be incremental. Tolerant of a malformed document.
 */
export function guardrailReferenceProblems(document: Record<string, unknown>): Problem[] {
  const defined = isRecord(document.guardrails) ? document.guardrails : {};
  const problems: Problem[] = [];
  const check = (attachment: unknown, path: (string | number)[]): void => {
    if (!isRecord(attachment)) return;
    for (const stage of ['input', 'output'] as const) {
      const names = attachment[stage];
      if (!Array.isArray(names)) continue;
      names.forEach((name, index) => {
        const at = [...path, stage, index];
        if (typeof name !== 'string') return;
        const guardrail = defined[name];
        if (!isRecord(guardrail)) {
          problems.push({ path: at, message: `unknown guardrail '${name}'` });
          return;
        }
        const problem = placementProblem(guardrail, stage);
        if (problem) problems.push({ path: at, message: `guardrail '${name}': ${problem}` });
      });
    }
  };
  if (isRecord(document.routing)) check(document.routing.guardrails, ['routing', 'guardrails']);
  if (isRecord(document.routes)) {
    for (const [name, route] of Object.entries(document.routes)) if (isRecord(route)) check(route.guardrails, ['routes', name, 'guardrails']);
  }
  for (const [name, guardrail] of Object.entries(defined)) {
    if (isRecord(guardrail) && guardrail.stream === 'incremental' && guardrail.action !== undefined && !['deny', 'redact', 'flag'].includes(String(guardrail.action))) {
      problems.push({ path: ['guardrails', name, 'stream'], message: 'only deny, redact and flag can check a stream incrementally' });
    }
  }
  return problems;
}

function placementProblem(guardrail: Record<string, unknown>, stage: 'input' | 'output'): string | undefined {
  if (stage === 'input' && guardrail.kind === 'json_schema') return 'a JSON schema checks answers: attach it as output';
  if (stage === 'output' && guardrail.kind === 'size') return 'a size limit checks prompts: attach it as input';
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
