/**
 * The built-in detectors run JavaScript's backtracking engine on client text (for speed, and for the
 * look-arounds their boundaries need), unlike operator patterns, which run on RE2. So each detector pattern
 * must be free of super-linear backtracking: recheck (a ReDoS checker) proves it with automata theory
 * where the pattern allows, and by guided fuzzing where look-arounds or back-references rule that out. A
 * detector added or changed with a vulnerable pattern fails here.
 *
 * recheck runs its native binary where its platform package installed, and its pure-JavaScript build in a
 * worker thread otherwise (the same verdicts; slower).
 */
import { check } from 'recheck';
import { describe, expect, it } from 'vitest';
import { PII_CATALOGUE, SECRET_CATALOGUE } from '../../src/policy/detectors/catalogue.js';

const DETECTORS = [...PII_CATALOGUE.values(), ...SECRET_CATALOGUE.values()];

describe('built-in detector patterns', () => {
  it('every detector names the patterns it runs', () => {
    for (const detector of DETECTORS) expect([detector.name, detector.patterns.length > 0]).toEqual([detector.name, true]);
  });

  it('no pattern backtracks super-linearly (recheck)', { timeout: 180_000 }, async () => {
    const verdicts: string[] = [];
    for (const detector of DETECTORS) {
      for (const pattern of detector.patterns) {
        const result = await check(pattern.source, pattern.flags.replace(/[gy]/g, ''), { timeout: 60_000 });
        verdicts.push(`${detector.name}: ${result.status}${result.status === 'vulnerable' ? ` (${result.complexity.type}, attack ${JSON.stringify(result.attack.pattern)})` : ''}`);
      }
    }
    expect(verdicts).toEqual(verdicts.map((verdict) => verdict.replace(/: .*$/, ': safe')));
  });
});
