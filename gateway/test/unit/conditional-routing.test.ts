/**
 * The `conditional` strategy in the route tree: validated at load with every problem reported, planned
 * by its first matching branch, nested in and around every other strategy.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { createProviderRegistry } from '../../src/providers/registry.js';
import { InFlightTracker } from '../../src/routing/in-flight.js';
import { ModelResolver } from '../../src/routing/model-resolver.js';
import { requestFacts } from '../../src/routing/request-facts.js';
import { branchDecisions, planAttempts, type PlanContext } from '../../src/routing/route-tree.js';
import { seededRandom } from '../helpers/seeded-random.js';

const PROVIDERS = { a: { type: 'mock' }, b: { type: 'mock' }, c: { type: 'mock' }, d: { type: 'mock' } };

function resolverFor(routes: Record<string, unknown>) {
  const config = validateConfig({ providers: PROVIDERS, routes }, {}, 'test');
  return new ModelResolver(config, createProviderRegistry(config));
}

function problemsOf(routes: Record<string, unknown>): string[] {
  try {
    validateConfig({ providers: PROVIDERS, routes }, {}, 'test');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path.map(String).join('.')}: ${p.message}`);
    throw error;
  }
  return [];
}

function plan(resolver: ModelResolver, route: string, tags: Record<string, string> | undefined, body: Record<string, unknown> = {}, overrides: Partial<PlanContext> = {}) {
  const facts = requestFacts({ model: route, messages: [{ role: 'user', content: 'hi' }], ...body }, tags, '', '');
  return planAttempts(resolver.resolve(route)!.root, { random: seededRandom(1), inFlight: new InFlightTracker(), stickyKey: () => undefined, facts, ...overrides });
}

const tiered = {
  strategy: 'conditional',
  branches: [
    { name: 'premium', when: { 'metadata.tier': 'premium' }, target: { provider: 'a', model: 'big' } },
    { when: { max_tokens: { gt: 1000 } }, target: { strategy: 'fallback', targets: [{ provider: 'b', model: 'long' }, { provider: 'c', model: 'long' }] } },
  ],
  default: { provider: 'd', model: 'small' },
};

describe('conditional routes', () => {
  it('take the first branch whose condition holds, else the default, and label the attempts', () => {
    const resolver = resolverFor({ chat: tiered });
    expect(plan(resolver, 'chat', { tier: 'premium' }, { max_tokens: 5000 }).map((p) => [p.target.key, p.branch])).toEqual([['a/big', 'premium']]);
    expect(plan(resolver, 'chat', { tier: 'free' }, { max_tokens: 5000 }).map((p) => [p.target.key, p.branch])).toEqual([
      ['b/long', '1'],
      ['c/long', '1'],
    ]);
    expect(plan(resolver, 'chat', undefined).map((p) => [p.target.key, p.branch])).toEqual([['d/small', 'default']]);
    expect(resolver.resolve('chat')!.conditional).toBe(true);
  });

  it('without facts, take the default branch', () => {
    const resolver = resolverFor({ chat: tiered });
    expect(planAttempts(resolver.resolve('chat')!.root, { random: seededRandom(1), inFlight: new InFlightTracker(), stickyKey: () => undefined }).map((p) => p.branch)).toEqual(['default']);
  });

  it('nest: conditional in conditional, in a fallback, a canary and a loadbalance, and around them', () => {
    const resolver = resolverFor({
      nested: {
        strategy: 'conditional',
        branches: [
          {
            name: 'gold',
            when: { 'metadata.tier': 'gold' },
            target: {
              strategy: 'conditional',
              branches: [{ name: 'long', when: { prompt_tokens: { gte: 1000 } }, target: { provider: 'a', model: 'long' } }],
              default: { strategy: 'canary', canaryWeight: 100, baseline: { provider: 'b', model: 'base' }, canary: { provider: 'c', model: 'cand' } },
            },
          },
        ],
        default: {
          strategy: 'loadbalance',
          targets: [{ provider: 'd', model: 'x' }],
        },
      },
      inside: {
        strategy: 'fallback',
        targets: [
          { strategy: 'conditional', branches: [{ name: 'eu', when: { 'metadata.region': 'eu' }, target: { provider: 'a', model: 'eu' } }], default: { provider: 'b', model: 'us' } },
          { provider: 'c', model: 'backup' },
        ],
      },
    });
    const long = { messages: [{ role: 'user', content: 'x'.repeat(4000) }] };
    expect(plan(resolver, 'nested', { tier: 'gold' }, long).map((p) => [p.target.key, p.branch])).toEqual([['a/long', 'gold/long']]);
    expect(plan(resolver, 'nested', { tier: 'gold' }).map((p) => [p.target.key, p.branch, p.variant])).toEqual([
      ['c/cand', 'gold/default', 'canary'],
      ['b/base', 'gold/default', 'baseline'],
    ]);
    expect(plan(resolver, 'nested', {}).map((p) => [p.target.key, p.branch])).toEqual([['d/x', 'default']]);
    // A canary split inside a branch is known to the controller by an id without the branch path's slash.
    expect([...resolver.canarySplits.keys()]).toEqual(['nested.gold.default']);
    expect(plan(resolver, 'inside', { region: 'eu' }).map((p) => [p.target.key, p.branch])).toEqual([
      ['a/eu', 'eu'],
      ['c/backup', undefined],
    ]);
    expect(plan(resolver, 'inside', {}).map((p) => [p.target.key, p.branch])).toEqual([
      ['b/us', 'default'],
      ['c/backup', undefined],
    ]);
  });

  it('branch decisions cover every conditional node (what a cached answer must also match)', () => {
    const resolver = resolverFor({ chat: tiered });
    const root = resolver.resolve('chat')!.root;
    const facts = (tags: Record<string, string>) => requestFacts({ model: 'chat', messages: [] }, tags, '', '');
    expect(branchDecisions(root, facts({ tier: 'premium' }))).not.toBe(branchDecisions(root, facts({ tier: 'free' })));
    expect(branchDecisions(root, facts({ tier: 'free' }))).toBe(branchDecisions(root, facts({ tier: 'basic' })));
  });

  it('report every problem of a conditional route at load, with its path', () => {
    const problems = problemsOf({
      chat: {
        strategy: 'conditional',
        branches: [
          { name: 'a', when: { 'metadata.tier': { gt: 3 } }, target: { provider: 'nope', model: 'x' } },
          { name: 'a', when: { user: { regex: 'x(?!y)' } }, target: { provider: 'a', model: 'x' } },
          { name: 'bad name!', when: {}, target: { provider: 'a', model: 'x' } },
        ],
        default: { provider: 'ghost', model: 'x' },
      },
      empty: { strategy: 'conditional', branches: [], default: { provider: 'a', model: 'x' } },
      nodefault: { strategy: 'conditional', branches: [{ when: { stream: true }, target: { provider: 'a', model: 'x' } }] },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^routes\.chat\.branches\.0\.when\.metadata\.tier\.gt: operator 'gt' does not apply/),
        expect.stringMatching(/^routes\.chat\.branches\.0\.target\.provider: unknown provider 'nope'/),
        expect.stringMatching(/^routes\.chat\.branches\.1\.when\.user\.regex: not supported by RE2/),
        expect.stringMatching(/^routes\.chat\.branches\.1\.name: branch name 'a' is used twice/),
        expect.stringMatching(/^routes\.chat\.branches\.2\.name: branch names use/),
        expect.stringMatching(/^routes\.chat\.branches\.2\.when: an empty condition/),
        expect.stringMatching(/^routes\.chat\.default\.provider: unknown provider 'ghost'/),
        expect.stringMatching(/^routes\.empty\.branches: /),
        expect.stringMatching(/^routes\.nodefault\.default: /),
      ]),
    );
  });
});
