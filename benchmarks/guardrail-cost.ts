/**
 * What guardrails cost per KB of text — CPU time, median of five rounds — measured in this process: each built-in detector and each
 * guardrail kind on realistic text (a corpus of prompts, code, logs and numbers with a few e-mail
 * addresses, card numbers and keys in it), the input check end to end on a chat request, the incremental
 * stream check on an answer arriving in small chunks, and every detector on adversarial near-matches
 * (to show the cost stays linear). `npm run bench` includes it; `tsx benchmarks/guardrail-cost.ts`
 * prints it alone.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../gateway/src/config/load.js';
import { GuardrailSet, type RoutePolicy } from '../gateway/src/policy/compile-guardrails.js';
import { PII_CATALOGUE, SECRET_CATALOGUE } from '../gateway/src/policy/detectors/catalogue.js';
import type { Detector } from '../gateway/src/policy/detectors/detector.js';
import { foldText } from '../gateway/src/policy/folded-text.js';
import type { TextGuardrail } from '../gateway/src/policy/guardrail.js';
import { checkInput, startPolicyRun } from '../gateway/src/policy/run-guardrails.js';
import { guardStream } from '../gateway/src/policy/stream-guard.js';
import type { JsonObject } from '../gateway/src/providers/types.js';
import { requestFacts } from '../gateway/src/routing/request-facts.js';

export interface GuardrailCostRow {
  check: string;
  text: string;
  /** Microseconds of CPU per KB of text checked. */
  usPerKb: number;
}

const BENIGN = readFileSync(fileURLToPath(new URL('../gateway/test/fixtures/detectors/benign-text.md', import.meta.url)), 'utf8');

/** ~16 KB of realistic text: the benign corpus with an e-mail, a card, an IBAN and a key in each copy. */
function realisticText(): string {
  const salted = `${BENIGN}\nContact jane.doe@example.com, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, key ghp_${'Ab1'.repeat(12)}.\n`;
  let text = '';
  while (text.length < 16 * 1024) text += salted;
  return text;
}

/** CPU time (user + system) of this process, in µs: less disturbed than wall time on a shared machine. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Runs `work` repeatedly for about `budgetMs` of CPU (after a warm-up), in five rounds; the median
 * round's CPU µs per KB of `bytes`. A synchronous `work` is awaited too (a microtask per run: nothing
 * next to a scan of kilobytes).
 */
async function measure(bytes: number, work: () => unknown, budgetMs = 150): Promise<number> {
  for (let i = 0; i < 3; i++) await work();
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    let runs = 0;
    const start = cpuMicros();
    let spent = 0;
    do {
      await work();
      runs++;
      spent = cpuMicros() - start;
    } while (spent < (budgetMs * 1000) / 5);
    rounds.push(spent / runs / (bytes / 1024));
  }
  return rounds.sort((a, b) => a - b)[2] as number;
}

function scanAll(detectors: readonly Detector[], text: string): void {
  let found = 0;
  for (const detector of detectors) detector.scan(text, () => found++);
}

function policyOf(guardrails: Record<string, unknown>, attach: { input?: string[]; output?: string[] }): RoutePolicy {
  const config = validateConfig({ providers: { m: { type: 'mock' } }, guardrails, routing: { guardrails: attach } }, {}, 'benchmark');
  return new GuardrailSet(config.guardrails).policyFor(config.routing.guardrails, undefined)!;
}

/** `text` as a stream of chat chunks with 8-character deltas. */
function chunked(text: string): AsyncIterator<JsonObject> {
  const chunks = Array.from({ length: Math.ceil(text.length / 8) }, (_, i) => ({ choices: [{ index: 0, delta: { content: text.slice(i * 8, i * 8 + 8) }, finish_reason: null }] }));
  let index = 0;
  return { next: async () => (index < chunks.length ? { done: false, value: chunks[index++] as JsonObject } : { done: true, value: undefined }) };
}

/** ~16 KB of prose in scripts past ASCII, folding to itself but for a no-break space and a ligature per copy. */
function otherScriptsText(): string {
  const salted = 'Grüße aus München: die Straße ist gesperrt.\u00a0Привет, мир! Это обычный текст. 你好，世界。这是普通的文字。 ﬁle\n';
  let text = '';
  while (text.length < 16 * 1024) text += salted;
  return text;
}

const WORDS = Array.from({ length: 1000 }, (_, i) => `term${i.toString(36)}x`);

export async function measureGuardrailCost(budgetMs = 150): Promise<GuardrailCostRow[]> {
  const text = realisticText();
  const rows: GuardrailCostRow[] = [];
  const detector = async (name: string, d: Detector[], sample: string, label: string): Promise<void> => {
    rows.push({ check: name, text: label, usPerKb: await measure(sample.length, () => scanAll(d, sample), budgetMs) });
  };
  for (const d of PII_CATALOGUE.values()) if (['email', 'phone', 'payment_card', 'iban'].includes(d.name)) await detector(d.name, [d], text, 'realistic');
  const nationalIds = [...PII_CATALOGUE.values()].filter((d) => !['email', 'phone', 'payment_card', 'iban'].includes(d.name));
  await detector('national ids (11)', nationalIds, text, 'realistic');
  await detector('pii (all 15 detectors)', [...PII_CATALOGUE.values()], text, 'realistic');
  await detector('secrets (all 14 detectors)', [...SECRET_CATALOGUE.values()], text, 'realistic');

  const words = policyOf({ w: { kind: 'words', words: WORDS, action: 'flag' } }, { input: ['w'] }).input[0] as TextGuardrail;
  rows.push({ check: 'words (1,000-word list)', text: 'realistic', usPerKb: await measure(text.length, () => words.scan(foldText(text), () => undefined), budgetMs) });
  const regex = policyOf({ r: { kind: 'regex', patterns: ['\\bPRJ-\\d{4}\\b', 'internal[- ]only', '\\b[A-Z]{3}-\\d{6}\\b'], flags: 'i', action: 'flag' } }, { input: ['r'] }).input[0] as TextGuardrail;
  rows.push({ check: 'regex (3 patterns)', text: 'realistic', usPerKb: await measure(text.length, () => regex.scan(foldText(text), () => undefined), budgetMs) });

  // Folding (what every text check reads) on text it changes nowhere, somewhere and everywhere.
  const scripts = otherScriptsText();
  const folds: [string, string][] = [
    ['realistic', text],
    ['other scripts (German, Russian, Chinese)', scripts],
    ['1 MB of ASCII with one zero-width space', `${'lorem ipsum dolor sit amet '.repeat(38_000)}\u200b`],
    ['a zero-width space every 3rd character', 'ab\u200b'.repeat(5462)],
    ['full-width digits and letters', '４１１１ＡＢ'.repeat(2731)],
  ];
  for (const [label, sample] of folds) rows.push({ check: 'fold (NFKC, invisible characters out)', text: label, usPerKb: await measure(sample.length, () => foldText(sample), budgetMs) });

  // The input check end to end: a 4 KB chat request through pii redact + secrets deny (the key removed so it passes).
  const input = policyOf({ pii: { kind: 'pii', action: 'redact' }, secrets: { kind: 'secrets', action: 'deny' } }, { input: ['pii', 'secrets'] });
  const prompt = text.slice(0, 4096).replace(/ghp_\w+/g, 'a key');
  const scriptsPrompt = scripts.slice(0, 4096);
  for (const [label, content] of [['4 KB chat request', prompt], ['4 KB chat request in other scripts', scriptsPrompt]] as const) {
    rows.push({
      check: 'input check: pii redact + secrets deny',
      text: label,
      usPerKb: await measure(content.length, () => {
        const body: JsonObject = { model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }] };
        return checkInput(input, startPolicyRun(requestFacts(body, undefined, '', ''), 'bench', []));
      }, budgetMs),
    });
  }

  // The incremental stream check: a 4 KB answer in 8-character deltas, redacting personal data as it passes.
  const output = policyOf({ pii: { kind: 'pii', action: 'redact' } }, { output: ['pii'] });
  const answer = prompt;
  rows.push({
    check: 'stream check (incremental pii redact)',
    text: '4 KB answer in 8-character chunks',
    usPerKb: await measure(answer.length, async () => {
      const guarded = guardStream(output.output as TextGuardrail[], startPolicyRun(requestFacts({}, undefined, '', ''), 'bench', []), undefined, chunked(answer));
      while (!(await guarded.rest.next()).done);
    }, budgetMs),
  });

  // What reading the same chunks costs without any check, for comparison.
  rows.push({
    check: 'stream read without checks (baseline)',
    text: '4 KB answer in 8-character chunks',
    usPerKb: await measure(answer.length, async () => {
      const source = chunked(answer);
      while (!(await source.next()).done);
    }, budgetMs),
  });

  // Adversarial: 64 KB that looks like the start of a match everywhere and completes none.
  const adversarial: [string, string][] = [
    ['letters then @', `${'a'.repeat(65_535)}@`],
    ['digits and spaces', '1 '.repeat(32_768)],
    ['prefixes', 'sk-eyJAKIAghp_'.repeat(4681)],
  ];
  for (const [label, sample] of adversarial) {
    rows.push({ check: 'pii + secrets (all 29)', text: `adversarial: ${label}`, usPerKb: await measure(sample.length, () => scanAll([...PII_CATALOGUE.values(), ...SECRET_CATALOGUE.values()], sample), budgetMs) });
  }
  return rows.map((row) => ({ ...row, usPerKb: Math.round(row.usPerKb * 100) / 100 }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const row of await measureGuardrailCost(500)) process.stdout.write(`${row.check.padEnd(40)} ${row.text.padEnd(36)} ${row.usPerKb.toFixed(2).padStart(8)} µs/KB\n`);
}
