/**
 * The guardrail engine without sockets: text guardrails on requests and answers, redaction that keeps a
 * stream's chunking, the incremental stream check (matches split across chunks, held back and never
 * sent in part), config validation with every problem reported.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { GuardrailSet, type RoutePolicy } from '../../src/policy/compile-guardrails.js';
import type { TextGuardrail } from '../../src/policy/guardrail.js';
import { redistribute, type Span } from '../../src/policy/redaction.js';
import { checkAnswer, checkInput, checkStream, startPolicyRun, type PolicyRun } from '../../src/policy/run-guardrails.js';
import { guardStream } from '../../src/policy/stream-guard.js';
import { REGEX_WINDOW } from '../../src/policy/text-guardrails.js';
import { isGatewayError, type GatewayError } from '../../src/errors.js';
import type { JsonObject } from '../../src/providers/types.js';
import { requestFacts } from '../../src/routing/request-facts.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@example.com';

function policyOf(guardrails: Record<string, unknown>, attach: { input?: string[]; output?: string[] }): RoutePolicy {
  const config = validateConfig({ providers: { m: { type: 'mock' } }, guardrails, routing: { guardrails: attach } }, {}, 'test');
  return new GuardrailSet(config.guardrails).policyFor(config.routing.guardrails, undefined)!;
}

function runFor(body: JsonObject): PolicyRun {
  return startPolicyRun(requestFacts(body, { team: 'a' }, 'key-1', 'u'), 'chat', []);
}

const chat = (...contents: string[]): JsonObject => ({ model: 'chat', messages: contents.map((content) => ({ role: 'user', content })) });
const answer = (content: string): JsonObject => ({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });

async function denial(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (isGatewayError(error)) return error;
    throw error;
  }
  throw new Error('expected a denial');
}

describe('input checks', () => {
  it('redact replaces each match, every check sees what the one before left, verdicts say what was found', async () => {
    const policy = policyOf(
      { pii: { kind: 'pii', action: 'redact' }, words: { kind: 'words', words: ['Project Falcon'], action: 'flag' } },
      { input: ['pii', 'words'] },
    );
    const body = chat(`mail ${EMAIL} or call +1 415 555 0100`, 'card ' + CARD, 'about project falcon');
    const run = runFor(body);
    await checkInput(policy, run);
    expect((body.messages as JsonObject[]).map((m) => m.content)).toEqual(['mail [EMAIL] or call [PHONE]', 'card [PAYMENT_CARD]', 'about project falcon']);
    expect(run.verdicts).toEqual([
      { guardrail: 'pii', stage: 'input', verdict: 'redact', findings: 'email:1,phone:1,payment_card:1' },
      { guardrail: 'words', stage: 'input', verdict: 'flag', findings: 'word:1' },
    ]);
  });

  it('deny throws an error whose code names the guardrail and whose param says where; the text is never in it', async () => {
    const policy = policyOf({ 'no-secrets': { kind: 'secrets', action: 'deny' } }, { input: ['no-secrets'] });
    const key = `sk-proj-${'a1B2'.repeat(10)}`;
    const run = runFor(chat('hello', [{ type: 'text', text: `use ${key}` }] as unknown as string));
    const error = await denial(checkInput(policy, run));
    expect([error.code, error.status, error.param]).toEqual(['guardrail_denied:no-secrets', 400, 'messages[1].content[0].text']);
    expect(JSON.stringify(error.toBody())).not.toContain(key);
    expect(run.verdicts).toEqual([{ guardrail: 'no-secrets', stage: 'input', verdict: 'deny', findings: 'openai_key:1' }]);
  });

  it('reads the tool calls of the conversation: their arguments are denied and redacted like any text', async () => {
    const key = `sk-proj-${'a1B2'.repeat(10)}`;
    const call = (args: string): JsonObject => ({
      messages: [
        { role: 'user', content: 'deploy it' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'deploy', arguments: args } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
    });
    const denied = await denial(checkInput(policyOf({ 'no-secrets': { kind: 'secrets', action: 'deny' } }, { input: ['no-secrets'] }), runFor(call(JSON.stringify({ token: key })))));
    expect([denied.code, denied.param]).toEqual(['guardrail_denied:no-secrets', 'messages[1].tool_calls[0].function.arguments']);

    const body = call(JSON.stringify({ to: EMAIL }));
    await checkInput(policyOf({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, { input: ['pii'] }), runFor(body));
    const sent = (body.messages as JsonObject[])[1]!.tool_calls as { function: { arguments: string } }[];
    expect(JSON.parse(sent[0]!.function.arguments)).toEqual({ to: '[EMAIL]' });
  });

  it('size limits: prompt tokens, characters, messages; deny or flag', async () => {
    const policy = policyOf(
      { tokens: { kind: 'size', maxPromptTokens: 50, action: 'flag' }, messages: { kind: 'size', maxMessages: 2, action: 'deny' } },
      { input: ['tokens', 'messages'] },
    );
    const run = runFor(chat('x'.repeat(400)));
    await checkInput(policy, run);
    expect(run.verdicts.map((v) => [v.verdict, v.findings])).toEqual([['flag', 'prompt_tokens 104 > 50'], ['pass', '']]);
    const error = await denial(checkInput(policy, runFor(chat('a', 'b', 'c'))));
    expect(error.code).toBe('guardrail_denied:messages');
    const chars = policyOf({ chars: { kind: 'size', maxChars: 10, action: 'deny' } }, { input: ['chars'] });
    expect((await denial(checkInput(chars, runFor({ model: 'x', prompt: 'eleven char' })))).code).toBe('guardrail_denied:chars');
  });

  it('regex guardrails find matches across their scanning windows, once each', async () => {
    const policy = policyOf({ codename: { kind: 'regex', patterns: ['PRJ-\\d{4}'], action: 'redact' } }, { input: ['codename'] });
    // One match inside a window, one straddling the window boundary, one in the overlap of the last window.
    const text = `PRJ-0001 ${'.'.repeat(REGEX_WINDOW - 13)}PRJ-0002${'.'.repeat(REGEX_WINDOW)}PRJ-0003`;
    const body = { model: 'x', prompt: text };
    const run = runFor(body);
    await checkInput(policy, run);
    expect(body.prompt).toBe(text.replaceAll(/PRJ-\d{4}/g, '[REDACTED]'));
    expect(run.verdicts[0]!.findings).toBe('pattern_0:3');
  });

  it('a window reads the text before it: look-behind, ^ and \\b mean at its start what they mean anywhere', async () => {
    const redacted = async (pattern: string, text: string): Promise<string> => {
      const body = { model: 'x', prompt: text };
      await checkInput(policyOf({ r: { kind: 'regex', patterns: [pattern], action: 'redact' } }, { input: ['r'] }), runFor(body));
      return body.prompt;
    };
    const tail = ' z'.repeat(1000);
    // The window boundary falls right after `key=`, before `^`'s and `\b`'s match.
    const keyed = `${'a '.repeat(REGEX_WINDOW / 2 - 2)}key=SECRETVALUE more${tail}`;
    expect(await redacted('(?<=key=)\\w+', keyed)).toBe(keyed.replace('SECRETVALUE', '[REDACTED]'));
    const glued = `${'x'.repeat(REGEX_WINDOW)}secret PRJ-1234${tail}`;
    expect(await redacted('^secret', glued)).toBe(glued);
    expect(await redacted('\\bPRJ-\\d{4}\\b', `${'x'.repeat(REGEX_WINDOW)}PRJ-1234${tail}`)).toBe(`${'x'.repeat(REGEX_WINDOW)}PRJ-1234${tail}`);
    // At the start of the text they still match.
    expect(await redacted('^secret', `secret${tail}`)).toBe(`[REDACTED]${tail}`);
  });
});

describe('disguised text', () => {
  const ZWSP = '\u200b';
  const token = `ghp_${'Ab1'.repeat(12)}`;
  const disguisedToken = `${token.slice(0, 12)}${ZWSP}${token.slice(12, 30)}\u2060${token.slice(30)}`;
  const fullWidthCard = '４１１１ １１１１ １１１１ １１１１';
  const fullWidthEmail = 'ｊａｎｅ.doe＠example.com';

  it('invisible characters inside a secret and full-width digits or ＠ do not hide it from deny and flag', async () => {
    const deny = policyOf({ secrets: { kind: 'secrets', action: 'deny' } }, { input: ['secrets'] });
    const error = await denial(checkInput(deny, runFor(chat(`token ${disguisedToken} here`))));
    expect(error.code).toBe('guardrail_denied:secrets');
    const flag = policyOf({ pii: { kind: 'pii', action: 'flag' }, words: { kind: 'words', words: ['refund'], action: 'flag' } }, { input: ['pii', 'words'] });
    const run = runFor(chat(`card ${fullWidthCard}, mail ${fullWidthEmail}, a ｒｅｆ${ZWSP}ｕｎｄ please`));
    await checkInput(flag, run);
    expect(run.verdicts.map((v) => v.findings)).toEqual(['email:1,payment_card:1', 'word:1']);
  });

  it('redact replaces the original characters, invisible ones and wide ones included, and leaves the rest as it was', async () => {
    const policy = policyOf({ pii: { kind: 'pii', action: 'redact' }, secrets: { kind: 'secrets', action: 'redact' } }, { input: ['pii', 'secrets'] });
    const body = chat(`Ｎｏｔｅ: card ${fullWidthCard}; mail ${fullWidthEmail}; key ${disguisedToken}${ZWSP}. ｃａｆé`);
    await checkInput(policy, runFor(body));
    expect((body.messages as JsonObject[])[0]!.content).toBe('Ｎｏｔｅ: card [PAYMENT_CARD]; mail [EMAIL]; key [GITHUB_TOKEN]. ｃａｆé');
  });

  it('an incremental stream check folds too: a disguised secret split across chunks is denied before any of it leaves', async () => {
    const [secrets] = policyOf({ secrets: { kind: 'secrets', action: 'deny' } }, { output: ['secrets'] }).output as TextGuardrail[];
    const pieces = ['Here: ', disguisedToken.slice(0, 9), disguisedToken.slice(9, 25), disguisedToken.slice(25), ' and more', ' never sent'];
    const [first, ...rest] = streamChunks(pieces);
    const guarded = guardStream([secrets!], runFor(chat('hi')), first, fromArray(rest));
    const { texts, error } = await drain(guarded.rest, guarded.first);
    expect(error?.code).toBe('guardrail_denied:secrets');
    expect(texts.join('')).not.toContain('ghp_');
  });
});

describe('output checks on a whole answer', () => {
  it('redacts a JSON answer in place', async () => {
    const policy = policyOf({ pii: { kind: 'pii', detectors: ['email'], action: 'redact', replacement: '<{type} removed>' } }, { output: ['pii'] });
    const body = answer(`write to ${EMAIL}`);
    expect(await checkAnswer(policy, body, runFor(chat('hi')), undefined)).toEqual({ kind: 'accept' });
    expect((body.choices as JsonObject[])[0]!.message).toMatchObject({ content: 'write to <EMAIL removed>' });
  });

  it('json_schema: retry while retries remain, then deny; fallback; flag; the request’s own schema', async () => {
    const schema = { type: 'object', required: ['answer'], properties: { answer: { type: 'number' } } };
    const retry = policyOf({ shape: { kind: 'json_schema', schema, action: 'retry', maxRetries: 2 } }, { output: ['shape'] });
    const run = runFor(chat('hi'));
    expect((await checkAnswer(retry, answer('{"answer": "four"}'), run, undefined)).kind).toBe('retry');
    expect((await checkAnswer(retry, answer('not json'), run, undefined)).kind).toBe('retry');
    const last = await checkAnswer(retry, answer('{}'), run, undefined);
    expect(last.kind).toBe('deny');
    expect(last.kind !== 'accept' && last.error.code).toBe('guardrail_denied:shape');
    expect(run.verdicts.map((v) => [v.verdict, v.findings])).toEqual([
      ['retry', 'schema: /answer must be number'],
      ['retry', 'schema: the answer is not JSON'],
      ['deny', "schema: / must have required property 'answer'"],
    ]);
    expect((await checkAnswer(retry, answer('{"answer": 4}'), runFor(chat('hi')), undefined)).kind).toBe('accept');

    const fallback = policyOf({ shape: { kind: 'json_schema', schema, action: 'fallback' } }, { output: ['shape'] });
    expect((await checkAnswer(fallback, answer('[]'), runFor(chat('hi')), undefined)).kind).toBe('fallback');
    const flag = policyOf({ shape: { kind: 'json_schema', schema, action: 'flag' } }, { output: ['shape'] });
    expect((await checkAnswer(flag, answer('[]'), runFor(chat('hi')), undefined)).kind).toBe('accept');

    const fromRequest = policyOf({ shape: { kind: 'json_schema', schema: 'request', action: 'deny' } }, { output: ['shape'] });
    const asked = { ...chat('hi'), response_format: { type: 'json_schema', json_schema: { name: 'a', schema } } };
    expect((await checkAnswer(fromRequest, answer('{"answer": 1}'), runFor(asked), undefined)).kind).toBe('accept');
    expect((await checkAnswer(fromRequest, answer('{"answer": []}'), runFor(asked), undefined)).kind).toBe('deny');
    // No schema in the request: nothing to hold the answer to.
    expect((await checkAnswer(fromRequest, answer('prose'), runFor(chat('hi')), undefined)).kind).toBe('accept');

    // The answer is the content: reasoning or a tool call's arguments that happen to fit never stand in for it.
    const deny = policyOf({ shape: { kind: 'json_schema', schema, action: 'deny' } }, { output: ['shape'] });
    const withoutContent = (extra: JsonObject): JsonObject => ({ choices: [{ index: 0, message: { role: 'assistant', content: null, ...extra }, finish_reason: 'stop' }] });
    expect((await checkAnswer(deny, withoutContent({ reasoning_content: '{"answer": 1}' }), runFor(chat('hi')), undefined)).kind).toBe('deny');
    const call = { tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"answer": 1}' } }] };
    expect((await checkAnswer(deny, withoutContent(call), runFor(chat('hi')), undefined)).kind).toBe('deny');
  });

  it('reads the reasoning beside the answer (reasoning_content, reasoning), after the answer itself', async () => {
    const deny = policyOf({ pii: { kind: 'pii', detectors: ['email'], action: 'deny' } }, { output: ['pii'] });
    const thought = (key: string): JsonObject => ({ choices: [{ index: 0, message: { role: 'assistant', content: 'Done.', [key]: `The user is ${EMAIL}.` }, finish_reason: 'stop' }] });
    for (const key of ['reasoning_content', 'reasoning']) expect((await checkAnswer(deny, thought(key), runFor(chat('hi')), undefined)).kind).toBe('deny');

    const redact = policyOf({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, { output: ['pii'] });
    const body = thought('reasoning_content');
    await checkAnswer(redact, body, runFor(chat('hi')), undefined);
    expect((body.choices as JsonObject[])[0]!.message).toMatchObject({ content: 'Done.', reasoning_content: 'The user is [EMAIL].' });

    const buffered = policyOf({ pii: { kind: 'pii', detectors: ['email'], action: 'redact', stream: 'buffer' } }, { output: ['pii'] });
    const chunks = [{ choices: [{ index: 0, delta: { reasoning_content: 'Mail jane.' }, finish_reason: null }] }, { choices: [{ index: 0, delta: { reasoning_content: 'doe@example.com' }, finish_reason: null }] }, ...streamChunks(['Done.'])];
    await checkStream(buffered, chunks, runFor(chat('hi')), undefined);
    expect(chunks.slice(0, 2).map((c) => ((c.choices as JsonObject[])[0]!.delta as JsonObject).reasoning_content)).toEqual(['Mail [EMAIL]', '']);
  });

  it('a buffered stream: redaction keeps each chunk its own text', async () => {
    const policy = policyOf({ pii: { kind: 'pii', action: 'redact', stream: 'buffer' } }, { output: ['pii'] });
    const pieces = ['Mail ', 'jane.', 'doe@exa', 'mple.com', ' today'];
    const chunks = streamChunks(pieces);
    expect(await checkStream(policy, chunks, runFor(chat('hi')), undefined)).toEqual({ kind: 'accept' });
    expect(chunks.map(deltaText)).toEqual(['', 'Mail ', '[EMAIL]', '', '', ' today', '']);
  });
});

describe('redistribute', () => {
  it('puts a replacement where its span starts and removes the rest of the span from the pieces it covers', () => {
    const spans: Span[] = [
      { start: 2, end: 9, label: 'a' },
      { start: 10, end: 12, label: 'b' },
    ];
    expect(redistribute(['0123', '4567', '', '89', 'ABCD'], spans, (label) => `<${label}>`)).toEqual(['01<a>', '', '', '9', '<b>CD']);
    expect(redistribute(['abc'], [], () => 'x')).toEqual(['abc']);
  });
});

function streamChunks(pieces: readonly string[], finish = true): JsonObject[] {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
  return [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    ...pieces.map((content) => ({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
    ...(finish ? [{ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }] : []),
  ];
}

function deltaText(chunk: JsonObject): string {
  return String(((chunk.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.content ?? '');
}

async function drain(iterator: AsyncIterator<JsonObject>, first: JsonObject | undefined): Promise<{ texts: string[]; error: GatewayError | undefined }> {
  const texts: string[] = first ? [deltaText(first)] : [];
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) texts.push(deltaText(next.value));
  } catch (error) {
    return { texts, error: error as GatewayError };
  }
  return { texts, error: undefined };
}

function fromArray(chunks: JsonObject[]): AsyncIterator<JsonObject> & { closed: boolean } {
  let index = 0;
  const iterator = {
    closed: false,
    next: async () => (index < chunks.length ? { done: false, value: chunks[index++] as JsonObject } : { done: true, value: undefined }),
    return: async () => {
      iterator.closed = true;
      return { done: true, value: undefined };
    },
  };
  return iterator as AsyncIterator<JsonObject> & { closed: boolean };
}

describe('incremental stream checks', () => {
  const guardrails = (config: Record<string, unknown>, names: string[]) => policyOf(config, { output: names }).output as TextGuardrail[];

  it('held text that cannot go yet (a long run of invisible characters) is scanned again only once it has doubled', async () => {
    let scans = 0;
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const counting: TextGuardrail = { ...pii!, scan: (text, found) => (scans++, pii!.scan(text, found)) };
    const padded = `mail ${[...EMAIL].join('\u200b'.repeat(500))} done`;
    const pieces = Array.from({ length: Math.ceil(padded.length / 8) }, (_, i) => padded.slice(i * 8, i * 8 + 8));
    const [first, ...rest] = streamChunks(pieces);
    const guarded = guardStream([counting], runFor(chat('hi')), first, fromArray(rest));
    const { texts, error } = await drain(guarded.rest, guarded.first);
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe('mail [EMAIL] done');
    // 1,200 chunks; a scan per chunk once the holdback is full would be a thousand and more (quadratic in the run).
    expect(scans).toBeLessThan(40);
  });

  it('redact: a match split across chunks is held until recognised and never sent in part', async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['payment_card'], action: 'redact' } }, ['pii']);
    const pieces = ['Your card ', '4111 11', '11 1111 ', '1111 is ', 'on file. ', 'x'.repeat(200)];
    const [first, ...rest] = streamChunks(pieces);
    const run = runFor(chat('hi'));
    const guarded = guardStream([pii!], run, first, fromArray(rest));
    const { texts, error } = await drain(guarded.rest, guarded.first);
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(`Your card [PAYMENT_CARD] is on file. ${'x'.repeat(200)}`);
    for (const text of texts) expect(text).not.toMatch(/4111|1111/);
    // Text well before the match was released as it arrived, not at the end.
    expect(texts[1]).toBe('');
    expect(texts.at(-1)).not.toBe(texts.join(''));
    expect(run.verdicts).toEqual([{ guardrail: 'pii', stage: 'output', verdict: 'redact', findings: 'payment_card:1' }]);
  });

  it('releases text as it arrives once it is past the holdback', async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const pieces = Array.from({ length: 20 }, (_, i) => `sentence number ${i} of a long answer. `);
    const [first, ...rest] = streamChunks(pieces);
    const guarded = guardStream([pii!], runFor(chat('hi')), first, fromArray(rest));
    const { texts } = await drain(guarded.rest, guarded.first);
    expect(texts.join('')).toBe(pieces.join(''));
    // Most chunks carry text on their way (held back by the email detector's 70 characters, no more).
    expect(texts.filter((t) => t.length > 0).length).toBeGreaterThan(15);
  });

  it('deny: the stream ends with the deny, nothing of the match was sent, the upstream is closed', async () => {
    const [secrets] = guardrails({ secrets: { kind: 'secrets', action: 'deny' } }, ['secrets']);
    const key = `ghp_${'Ab1'.repeat(12)}`;
    const pieces = ['Here is the token: ', key.slice(0, 10), key.slice(10), ' and more text', ' never sent'];
    const [first, ...rest] = streamChunks(pieces);
    const upstream = fromArray(rest);
    const run = runFor(chat('hi'));
    const guarded = guardStream([secrets!], run, first, upstream);
    const { texts, error } = await drain(guarded.rest, guarded.first);
    expect(error?.code).toBe('guardrail_denied:secrets');
    expect(error?.endsStream).toBe(true);
    expect(texts.join('')).not.toContain('ghp_');
    expect(upstream.closed).toBe(true);
    expect(run.verdicts).toEqual([{ guardrail: 'secrets', stage: 'output', verdict: 'deny', findings: 'github_token:1' }]);
  });

  it('flag counts each match once, however many chunks it was held over', async () => {
    const [words] = guardrails({ words: { kind: 'words', words: ['refund'], action: 'flag' } }, ['words']);
    const pieces = ['We can ', 'ref', 'und you', '. A refund ', 'is on its way.'];
    const [first, ...rest] = streamChunks(pieces);
    const run = runFor(chat('hi'));
    const guarded = guardStream([words!], run, first, fromArray(rest));
    expect((await drain(guarded.rest, guarded.first)).texts.join('')).toBe(pieces.join(''));
    expect(run.verdicts).toEqual([{ guardrail: 'words', stage: 'output', verdict: 'flag', findings: 'word:2' }]);
  });

  it('checks a stream’s reasoning as a text of its own, released whole before the answer starts', async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const chunk = (delta: JsonObject, finish: string | null = null): JsonObject => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
    const chunks = [chunk({ role: 'assistant', reasoning_content: 'Write to jane.' }), chunk({ reasoning_content: 'doe@example.com now.' }), chunk({ content: 'Done' }), chunk({}, 'stop')];
    const [first, ...rest] = chunks;
    const guarded = guardStream([pii!], runFor(chat('hi')), first, fromArray(rest));
    const sent: JsonObject[] = [first!];
    for (let next = await guarded.rest.next(); !next.done; next = await guarded.rest.next()) sent.push(next.value);
    const field = (key: string) => sent.map((c) => String(((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.[key] ?? '')).join('');
    expect(field('reasoning_content')).toBe('Write to [EMAIL] now.');
    expect(field('content')).toBe('Done');
    // The reasoning is whole in the chunk that starts the answer, ahead of it.
    expect((sent[2]!.choices as JsonObject[])[0]!.delta).toEqual({ reasoning_content: 'Write to [EMAIL] now.', content: '' });

    const [deny] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'deny' } }, ['pii']);
    const again = [chunk({ role: 'assistant', reasoning_content: `The user is ${EMAIL} and ` }), chunk({ reasoning_content: 'x'.repeat(200) }), chunk({ content: 'Done' }), chunk({}, 'stop')];
    const denied = guardStream([deny!], runFor(chat('hi')), again[0], fromArray(again.slice(1)));
    const { error } = await drain(denied.rest, denied.first);
    expect(error?.code).toBe('guardrail_denied:pii');
  });

  it('a stream that ends without a finish_reason gets its held text as one more chunk', async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const [first, ...rest] = streamChunks([`to ${EMAIL}`], false);
    const guarded = guardStream([pii!], runFor(chat('hi')), first, fromArray(rest));
    expect((await drain(guarded.rest, guarded.first)).texts.join('')).toBe('to [EMAIL]');
  });

  it("checks each tool call's arguments as a text of its own, and releases what is held with the finish, or after the end", async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const callDelta = (index: number, args: string, named = false) => ({
      ...base,
      choices: [{ index: 0, delta: { tool_calls: [{ index, ...(named ? { id: `call_${index}`, type: 'function' } : {}), function: { ...(named ? { name: 'send' } : {}), arguments: args } }] }, finish_reason: null }],
    });
    const chunks = (finish: boolean): JsonObject[] => [
      callDelta(0, '', true),
      callDelta(0, '{"to":"jane.doe@exa'),
      callDelta(0, 'mple.com"}'),
      callDelta(1, '{"cc":"', true),
      callDelta(1, `${EMAIL}"}`),
      ...(finish ? [{ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }] : []),
    ];
    for (const finish of [true, false]) {
      const [first, ...rest] = chunks(finish);
      const guarded = guardStream([pii!], runFor(chat('hi')), first, fromArray(rest));
      const sent: JsonObject[] = [guarded.first!];
      for (let next = await guarded.rest.next(); !next.done; next = await guarded.rest.next()) sent.push(next.value);
      const args = new Map<number, string>();
      const names: string[] = [];
      for (const chunk of sent) {
        for (const call of (((chunk.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.tool_calls as JsonObject[] | undefined) ?? []) {
          const fn = call.function as JsonObject;
          if (typeof fn.name === 'string') names.push(`${call.index as number}:${fn.name}`);
          args.set(call.index as number, (args.get(call.index as number) ?? '') + String(fn.arguments ?? ''));
        }
      }
      expect([finish, names, [...args]]).toEqual([finish, ['0:send', '1:send'], [[0, '{"to":"[EMAIL]"}'], [1, '{"cc":"[EMAIL]"}']]]);
    }
  });

  it('checks each choice of an n > 1 stream on its own', async () => {
    const [pii] = guardrails({ pii: { kind: 'pii', detectors: ['email'], action: 'redact' } }, ['pii']);
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const chunks = [
      { ...base, choices: [{ index: 0, delta: { content: 'a@b' }, finish_reason: null }, { index: 1, delta: { content: 'x@y' }, finish_reason: null }] },
      { ...base, choices: [{ index: 1, delta: { content: '.org' }, finish_reason: 'stop' }] },
      { ...base, choices: [{ index: 0, delta: { content: '.com' }, finish_reason: 'stop' }] },
    ];
    const guarded = guardStream([pii!], runFor(chat('hi')), undefined, fromArray(chunks));
    const out: string[] = [];
    for (let next = await guarded.rest.next(); !next.done; next = await guarded.rest.next()) {
      for (const choice of next.value.choices as JsonObject[]) out.push(`${choice.index}:${(choice.delta as JsonObject).content}`);
    }
    expect(out.filter((t) => !t.endsWith(':'))).toEqual(['1:[EMAIL]', '0:[EMAIL]']);
  });
});

describe('guardrail config', () => {
  function problems(document: Record<string, unknown>): string[] {
    try {
      validateConfig({ providers: { m: { type: 'mock' } }, ...document }, {}, 'test');
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.path.map(String).join('.')}: ${p.message}`);
      throw error;
    }
    return [];
  }

  it('reports every problem with its path', () => {
    const found = problems({
      guardrails: {
        bad_regex: { kind: 'regex', patterns: ['ok', 'a(?=b)', '('], action: 'redact' },
        bad_detector: { kind: 'pii', detectors: ['emial'], action: 'flag' },
        bad_schema: { kind: 'json_schema', schema: { type: 'nonsense' }, action: 'retry' },
        bad_hook: { kind: 'webhook', url: 'ftp://x', action: 'deny' },
        incremental_schema: { kind: 'json_schema', schema: { type: 'object' }, action: 'deny', stream: 'incremental' },
        sized: { kind: 'size', action: 'deny' },
        'bad name!': { kind: 'words', words: ['x'], action: 'deny' },
        schema_ok: { kind: 'json_schema', schema: { type: 'object' }, action: 'deny' },
        size_ok: { kind: 'size', maxChars: 3, action: 'deny' },
      },
      routing: { guardrails: { input: ['missing', 'schema_ok'], output: ['size_ok'] } },
      routes: { chat: { targets: [{ provider: 'm', model: 'x' }], guardrails: { output: ['ghost'] } } },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^guardrails\.bad_regex\.patterns\.1: not supported by RE2/),
        expect.stringMatching(/^guardrails\.bad_regex\.patterns\.2: not a valid regular expression/),
        expect.stringMatching(/^guardrails\.bad_detector\.detectors\.0: /),
        expect.stringMatching(/^guardrails\.bad_schema\.schema: not a usable JSON schema/),
        expect.stringMatching(/^guardrails\.bad_hook\.url: /),
        expect.stringMatching(/^guardrails\.bad_hook\.failMode: /),
        expect.stringMatching(/^guardrails\.bad_hook\.action: unknown setting/),
        expect.stringMatching(/^guardrails\.incremental_schema\.stream: /),
        expect.stringMatching(/^guardrails\.sized: set at least one of/),
        expect.stringMatching(/^guardrails\.bad name!: /),
        'routing.guardrails.input.0: unknown guardrail \'missing\'',
        "routing.guardrails.input.1: guardrail 'schema_ok': a JSON schema checks answers: attach it as output",
        "routing.guardrails.output.0: guardrail 'size_ok': a size limit checks prompts: attach it as input",
        "routes.chat.guardrails.output.0: unknown guardrail 'ghost'",
      ]),
    );
  });

  it('a gateway with no guardrails attached has no policy on any route', () => {
    const config = validateConfig({ providers: { m: { type: 'mock' } }, guardrails: { unused: { kind: 'pii', action: 'flag' } } }, {}, 'test');
    expect(new GuardrailSet(config.guardrails).policyFor(config.routing.guardrails, undefined)).toBeUndefined();
  });
});

describe("the README's examples", () => {
  it('conditional routing and guardrails examples load as they are written', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const exampleUnder = (heading: string): Record<string, unknown> => {
      const section = readme.slice(readme.indexOf(`### ${heading}\n`));
      const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
      if (!yaml) throw new Error(`no example under ${heading}`);
      return parse(yaml) as Record<string, unknown>;
    };
    const providers = Object.fromEntries(['openai', 'claude', 'gemini', 'local-vllm'].map((name) => [name, { type: 'mock' }]));
    const routing = exampleUnder('Conditional routing');
    const guardrails = exampleUnder('Guardrails');
    const config = validateConfig({ providers, ...routing, ...guardrails, routes: { ...(routing.routes as object), ...(guardrails.routes as object) } }, { MODERATION_TOKEN: 'moderation-token-123' }, 'README');
    expect(Object.keys(config.guardrails)).toContain('moderation');
    expect(config.routes.assistant!.strategy).toBe('conditional');
  });
});
