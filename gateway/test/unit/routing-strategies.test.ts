import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { createProviderRegistry } from '../../src/providers/registry.js';
import { InFlightTracker } from '../../src/routing/in-flight.js';
import { ModelResolver } from '../../src/routing/model-resolver.js';
import { planAttempts, variantTargetsOf, type PlanContext } from '../../src/routing/route-tree.js';
import { isCanary, stickyBucket } from '../../src/routing/sticky-hash.js';
import { weightedOrder } from '../../src/routing/weighted-order.js';
import { seededRandom } from '../helpers/seeded-random.js';

function resolverFor(routes: Record<string, unknown>) {
  const config = validateConfig({ providers: { a: { type: 'mock' }, b: { type: 'mock' }, c: { type: 'mock' } }, routes }, {}, 'test');
  return new ModelResolver(config, createProviderRegistry(config));
}

function context(overrides: Partial<PlanContext> = {}): PlanContext {
  return { random: seededRandom(1), inFlight: new InFlightTracker(), stickyKey: () => undefined, ...overrides };
}

function keys(resolver: ModelResolver, route: string, ctx: PlanContext = context()): string[] {
  return planAttempts(resolver.resolve(route)!.root, ctx).map((p) => p.target.key);
}

describe('weightedOrder', () => {
  it('picks first in proportion to weight, within statistical bounds', () => {
    const random = seededRandom(42);
    const counts = { x: 0, y: 0, z: 0 };
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[weightedOrder(['x', 'y', 'z'] as const, [0.2, 0.3, 0.5], random)[0]!]++;
    // Expected 4000 / 6000 / 10000; 5 standard deviations is well under 400 here.
    expect(Math.abs(counts.x - 4000)).toBeLessThan(400);
    expect(Math.abs(counts.y - 6000)).toBeLessThan(400);
    expect(Math.abs(counts.z - 10000)).toBeLessThan(400);
  });

  it('never includes a zero-weight item, even as a fallback', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 1000; i++) expect(weightedOrder(['x', 'y'], [1, 0], random)).toEqual(['x']);
  });
});

describe('sticky canary hashing', () => {
  it('keeps each user on one variant while the weight stays put', () => {
    for (let u = 0; u < 200; u++) {
      const first = isCanary(stickyBucket('route', `user-${u}`), 30);
      for (let i = 0; i < 5; i++) expect(isCanary(stickyBucket('route', `user-${u}`), 30)).toBe(first);
    }
  });

  it('moving the weight from 10 to 20 moves about 10% of users, all from baseline to canary', () => {
    let moved = 0;
    let backwards = 0;
    let canaryAt10 = 0;
    const users = 10_000;
    for (let u = 0; u < users; u++) {
      const bucket = stickyBucket('route', `user-${u}`);
      const before = isCanary(bucket, 10);
      const after = isCanary(bucket, 20);
      if (before) canaryAt10++;
      if (before !== after) moved++;
      if (before && !after) backwards++;
    }
    expect(backwards).toBe(0);
    expect(Math.abs(moved / users - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(canaryAt10 / users - 0.1)).toBeLessThan(0.015);
  });
});

describe('route planning', () => {
  it('fallback tries targets in order, nested groups flattened', () => {
    const resolver = resolverFor({
      r: { strategy: 'fallback', targets: [{ provider: 'a', model: '1' }, { strategy: 'fallback', targets: [{ provider: 'b', model: '2' }, { provider: 'c', model: '3' }] }] },
    });
    expect(keys(resolver, 'r')).toEqual(['a/1', 'b/2', 'c/3']);
  });

  it('a route with no strategy is a fallback over its targets', () => {
    const resolver = resolverFor({ r: { targets: [{ provider: 'a', model: '1' }, { provider: 'b', model: '2' }] } });
    expect(keys(resolver, 'r')).toEqual(['a/1', 'b/2']);
  });

  it('fallback onStatus is carried by every target under the group', () => {
    const resolver = resolverFor({ r: { strategy: 'fallback', onStatus: [400, 413], targets: [{ provider: 'a', model: '1' }, { provider: 'b', model: '2' }] } });
    const plan = planAttempts(resolver.resolve('r')!.root, context());
    expect([...plan[0]!.fallbackOnStatus].sort()).toEqual([400, 413]);
  });

  it('loadbalance drains weight 0 and follows weights with a fixed seed', () => {
    const resolver = resolverFor({
      r: { strategy: 'loadbalance', targets: [{ provider: 'a', model: '1', weight: 1 }, { provider: 'b', model: '2', weight: 3 }, { provider: 'c', model: '3', weight: 0 }] },
    });
    const ctx = context({ random: seededRandom(99) });
    const firsts = { 'a/1': 0, 'b/2': 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) {
      const plan = keys(resolver, 'r', ctx);
      expect(plan).not.toContain('c/3');
      expect(plan).toHaveLength(2);
      firsts[plan[0]!]!++;
    }
    expect(Math.abs(firsts['b/2']! / 4000 - 0.75)).toBeLessThan(0.03);
  });

  it('least-busy puts the target with fewest in-flight requests first', () => {
    const resolver = resolverFor({ r: { strategy: 'least-busy', targets: [{ provider: 'a', model: '1' }, { provider: 'b', model: '2' }, { provider: 'c', model: '3' }] } });
    const inFlight = new InFlightTracker();
    inFlight.increment('a/1');
    inFlight.increment('a/1');
    inFlight.increment('b/2');
    expect(keys(resolver, 'r', context({ inFlight }))).toEqual(['c/3', 'b/2', 'a/1']);
  });

  it('canary: sticky variant, canary falls back to baseline, weight changes at run time', () => {
    const resolver = resolverFor({
      r: { strategy: 'canary', canaryWeight: 0, baseline: { provider: 'a', model: 'base' }, canary: { provider: 'b', model: 'new' } },
    });
    const split = resolver.canarySplits.get('r')!;
    const plan = (user: string) => planAttempts(resolver.resolve('r')!.root, context({ stickyKey: () => user }));
    expect(plan('u1').map((p) => [p.target.key, p.variant])).toEqual([['a/base', 'baseline']]);
    split.weight = 100;
    expect(plan('u1').map((p) => [p.target.key, p.variant])).toEqual([['b/new', 'canary'], ['a/base', 'baseline']]);
  });

  it('canary splits know their route (dots and all) and which targets answer for each variant', () => {
    const resolver = resolverFor({
      'llama-3.1': {
        strategy: 'fallback',
        targets: [
          { strategy: 'canary', canaryWeight: 5, baseline: { provider: 'a', model: 'base' }, canary: { strategy: 'fallback', targets: [{ provider: 'b', model: 'new' }, { provider: 'c', model: 'new' }] } },
          { provider: 'a', model: 'spare' },
        ],
      },
    });
    const split = resolver.canarySplits.get('llama-3.1.0')!;
    expect(split.route).toBe('llama-3.1');
    expect(variantTargetsOf(resolver.canarySplits.values())).toEqual([{ route: 'llama-3.1', baseline: ['a/base'], canary: ['b/new', 'c/new'] }]);
  });
});

describe('routing config', () => {
  it('reports problems inside nested groups with their paths', () => {
    try {
      validateConfig(
        {
          providers: { a: { type: 'mock' } },
          routes: {
            r: { strategy: 'loadbalance', targets: [{ strategy: 'fallback', targets: [{ provider: 'ghost', model: 'x' }, { provider: 'a' }] }, { strategy: 'teleport', targets: [] }] },
            s: { strategy: 'canary', baseline: { provider: 'a', model: 'x' }, canary: { provider: 'a', model: 'y' }, canaryWeight: 150 },
            t: { strategy: 'single', targets: [{ provider: 'a', model: 'x' }, { provider: 'a', model: 'y' }] },
          },
        },
        {},
        'test',
      );
      throw new Error('expected ConfigError');
    } catch (error) {
      const paths = (error as ConfigError).problems.map((p) => p.path.map(String).join('.'));
      expect(paths).toContain('routes.r.targets.0.targets.0.provider');
      expect(paths).toContain('routes.r.targets.0.targets.1.model');
      expect(paths).toContain('routes.r.targets.1.strategy');
      expect(paths).toContain('routes.s.canaryWeight');
      expect(paths).toContain('routes.t.targets');
    }
  });
});
