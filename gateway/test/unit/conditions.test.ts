import { describe, expect, it } from 'vitest';
import { compileCondition, conditionProblems, MAX_REGEX_SUBJECT } from '../../src/routing/conditions.js';
import { estimatePromptTokens, requestFacts, type RequestFacts } from '../../src/routing/request-facts.js';

function facts(body: Record<string, unknown> = {}, extra: { metadata?: Record<string, string>; key?: string; user?: string } = {}): RequestFacts {
  return requestFacts({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...body }, extra.metadata, extra.key ?? '', extra.user ?? '');
}

const holds = (condition: unknown, f: RequestFacts): boolean => compileCondition(condition)(f);

describe('condition operators', () => {
  it('eq (also as a bare scalar) and ne, on text, numbers and booleans', () => {
    const premium = facts({}, { metadata: { tier: 'premium' } });
    const free = facts({}, { metadata: { tier: 'free' } });
    const untagged = facts();
    expect(holds({ 'metadata.tier': 'premium' }, premium)).toBe(true);
    expect(holds({ 'metadata.tier': { eq: 'premium' } }, free)).toBe(false);
    expect(holds({ 'metadata.tier': { ne: 'premium' } }, free)).toBe(true);
    expect(holds({ 'metadata.tier': { ne: 'premium' } }, premium)).toBe(false);
    // An absent field is "not equal" to anything, and equal to nothing.
    expect(holds({ 'metadata.tier': { ne: 'premium' } }, untagged)).toBe(true);
    expect(holds({ 'metadata.tier': 'premium' }, untagged)).toBe(false);
    expect(holds({ temperature: 0 }, facts({ temperature: 0 }))).toBe(true);
    expect(holds({ temperature: { ne: 0 } }, facts({ temperature: 0.7 }))).toBe(true);
    expect(holds({ stream: true }, facts({ stream: true }))).toBe(true);
    expect(holds({ stream: true }, facts())).toBe(false);
    expect(holds({ stream: { ne: true } }, facts())).toBe(true);
  });

  it('ranges: gt, gte, lt, lte, combined on one field', () => {
    const at = (n: number) => facts({ max_tokens: n });
    const window = { max_tokens: { gt: 1000, lte: 4000 } };
    expect(holds(window, at(1000))).toBe(false);
    expect(holds(window, at(1001))).toBe(true);
    expect(holds(window, at(4000))).toBe(true);
    expect(holds(window, at(4001))).toBe(false);
    expect(holds({ max_tokens: { gte: 10, lt: 20 } }, at(10))).toBe(true);
    expect(holds({ max_tokens: { gte: 10, lt: 20 } }, at(20))).toBe(false);
    // A missing value is in no range.
    expect(holds({ max_tokens: { lt: 1_000_000 } }, facts())).toBe(false);
    // max_completion_tokens is what newer clients send; it wins over max_tokens.
    expect(holds({ max_tokens: { gt: 100 } }, facts({ max_completion_tokens: 500, max_tokens: 50 }))).toBe(true);
  });

  it('set membership: in and nin', () => {
    const team = (key: string) => facts({}, { key });
    expect(holds({ key: { in: ['team-a', 'team-b'] } }, team('team-b'))).toBe(true);
    expect(holds({ key: { in: ['team-a', 'team-b'] } }, team('team-c'))).toBe(false);
    expect(holds({ key: { nin: ['team-a'] } }, team('team-c'))).toBe(true);
    expect(holds({ key: { nin: ['team-a'] } }, team('team-a'))).toBe(false);
    expect(holds({ key: { nin: ['team-a'] } }, facts())).toBe(true);
    expect(holds({ temperature: { in: [0, 1] } }, facts({ temperature: 1 }))).toBe(true);
  });

  it('regex on text fields, never on values longer than the bound', () => {
    expect(holds({ user: { regex: '^internal-' } }, facts({}, { user: 'internal-42' }))).toBe(true);
    expect(holds({ user: { regex: '^internal-' } }, facts({}, { user: 'customer-1' }))).toBe(false);
    expect(holds({ user: { regex: '^internal-' } }, facts())).toBe(false);
    expect(holds({ model: { regex: 'gpt' } }, facts({ model: 'gpt-4o' }))).toBe(true);
    const long = `internal-${'x'.repeat(MAX_REGEX_SUBJECT)}`;
    expect(holds({ user: { regex: '^internal-' } }, facts({}, { user: long }))).toBe(false);
  });

  it('exists', () => {
    expect(holds({ 'metadata.team': { exists: true } }, facts({}, { metadata: { team: 'ml' } }))).toBe(true);
    expect(holds({ 'metadata.team': { exists: false } }, facts({}, { metadata: { team: 'ml' } }))).toBe(false);
    expect(holds({ response_format: { exists: false } }, facts())).toBe(true);
    expect(holds({ temperature: { exists: true } }, facts({ temperature: 0.2 }))).toBe(true);
  });

  it('and / or / not, and several fields in one object meaning and', () => {
    const f = facts({ stream: true, tools: [{ type: 'function', function: { name: 'x' } }] }, { metadata: { tier: 'premium' }, user: 'u1' });
    expect(holds({ 'metadata.tier': 'premium', stream: true }, f)).toBe(true);
    expect(holds({ 'metadata.tier': 'premium', stream: false }, f)).toBe(false);
    expect(holds({ and: [{ tools: true }, { user: 'u1' }] }, f)).toBe(true);
    expect(holds({ or: [{ tools: false }, { user: 'nobody' }] }, f)).toBe(false);
    expect(holds({ or: [{ tools: false }, { user: 'u1' }] }, f)).toBe(true);
    expect(holds({ not: { stream: true } }, f)).toBe(false);
    expect(holds({ not: { or: [{ user: 'a' }, { user: 'b' }] } }, f)).toBe(true);
  });

  it('reads every documented field', () => {
    const body = {
      model: 'assistant',
      max_tokens: 64,
      temperature: 0.3,
      stream: true,
      tools: [{ type: 'function' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } },
      messages: [{ role: 'user', content: 'a'.repeat(400) }],
    };
    const f = facts(body, { metadata: { tier: 'gold' }, key: 'k1', user: 'alice' });
    expect(holds({ model: 'assistant', max_tokens: 64, temperature: 0.3, stream: true, tools: true }, f)).toBe(true);
    expect(holds({ response_format: 'json_schema', key: 'k1', user: 'alice', 'metadata.tier': 'gold' }, f)).toBe(true);
    // 400 characters ≈ 100 tokens, plus 4 for the message's framing.
    expect(holds({ prompt_tokens: 104 }, f)).toBe(true);
    expect(holds({ tools: false }, facts({ tools: [] }))).toBe(true);
  });

  it('never reads an inherited property as a tag', () => {
    expect(holds({ 'metadata.constructor': { exists: true } }, facts({}, { metadata: { a: 'b' } }))).toBe(false);
    expect(holds({ 'metadata.toString': { ne: 'x' } }, facts({}, { metadata: {} }))).toBe(true);
  });
});

describe('condition validation', () => {
  it('reports every problem with its path, in one pass', () => {
    const problems = conditionProblems({
      'metdata.tier': 'x',
      max_tokens: { gt: 'many', between: 3 },
      user: { gt: 3 },
      stream: { in: [true] },
      or: [],
      and: [{ 'metadata.team': { in: [] } }, { model: { regex: 'a(?=b)' } }],
      not: 'premium',
      key: { exists: 'yes' },
      temperature: {},
    });
    const paths = problems.map((p) => p.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'metdata.tier',
        'max_tokens.gt',
        'max_tokens.between',
        'user.gt',
        'stream.in',
        'or',
        'and.0.metadata.team.in',
        'and.1.model.regex',
        'not',
        'key.exists',
        'temperature',
      ]),
    );
    expect(problems.find((p) => p.path.join('.') === 'metdata.tier')?.message).toContain('unknown field');
    expect(problems.find((p) => p.path.join('.') === 'and.1.model.regex')?.message).toContain('not supported by RE2');
  });

  it('accepts the documented forms', () => {
    expect(conditionProblems({ 'metadata.tier': 'premium', max_tokens: { gt: 1, lte: 2 }, or: [{ user: { regex: '^a' } }, { key: { in: ['x'] } }], not: { stream: true } })).toEqual([]);
  });
});

describe('prompt size estimate', () => {
  it('counts text in messages, parts, prompts and inputs', () => {
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: 'abcd'.repeat(10) }] })).toBe(10 + 4);
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcdefgh' }, { type: 'image_url', image_url: { url: 'x' } }] }] })).toBe(2 + 4);
    expect(estimatePromptTokens({ prompt: 'abcdefgh' })).toBe(2);
    expect(estimatePromptTokens({ input: ['abcd', 'abcd'] })).toBe(2);
    expect(estimatePromptTokens({ input: [[1, 2, 3]] })).toBe(3);
  });
});
