import { describe, expect, it } from 'vitest';
import { bleu, rougeL, tokenize } from '../../src/canary/text-agreement.js';

describe('ROUGE-L', () => {
  it('matches Lin (2004)\'s example sentences', () => {
    // R = "police killed the gunman", C = "police kill the gunman" → LCS = 3 (police, the, gunman).
    const score = rougeL('police killed the gunman', 'police kill the gunman');
    expect(score.recall).toBeCloseTo(3 / 4, 12);
    expect(score.precision).toBeCloseTo(3 / 4, 12);
    expect(score.f).toBeCloseTo(0.75, 12);
    // Word order matters: "the gunman kill police" shares only "the gunman" in sequence.
    expect(rougeL('police killed the gunman', 'the gunman kill police').f).toBeCloseTo(0.5, 12);
  });

  it('is 1 for identical text, 0 for disjoint or empty text', () => {
    expect(rougeL('The cat sat.', 'the cat sat .').f).toBe(1);
    expect(rougeL('alpha beta', 'gamma delta').f).toBe(0);
    expect(rougeL('', 'x').f).toBe(0);
  });

  it('weights recall with beta', () => {
    const score = rougeL('a b c d', 'a b');
    expect(score.recall).toBe(0.5);
    expect(score.precision).toBe(1);
    expect(rougeL('a b c d', 'a b', 2).f).toBeCloseTo((5 * 1 * 0.5) / (0.5 + 4 * 1), 12);
  });
});

describe('BLEU', () => {
  it('is 1 for an identical sentence of four or more tokens', () => {
    expect(bleu('the quick brown fox jumps', 'the quick brown fox jumps')).toBeCloseTo(1, 12);
  });

  it('matches the textbook unigram example with clipping (Papineni et al.)', () => {
    // Candidate "the the the the the the the" against "the cat is on the mat": clipped unigram precision 2/7.
    expect(bleu('the cat is on the mat', 'the the the the the the the', { maxN: 1, smooth: false })).toBeCloseTo(2 / 7, 12);
  });

  it('applies the brevity penalty to short candidates', () => {
    // Unigram BLEU of a perfect but short candidate: BP = exp(1 − 6/3).
    expect(bleu('the cat is on the mat', 'the cat is', { maxN: 1, smooth: false })).toBeCloseTo(Math.exp(1 - 6 / 3), 12);
  });

  it('computes the geometric mean of n-gram precisions (hand-checked value)', () => {
    // ref: a b c d e f (6 tokens); cand: a b c x e f (6 tokens), no smoothing, n = 1..4:
    // p1 = 5/6, p2 = 3/5 (ab, bc, ef), p3 = 1/4 (abc), p4 = 0 → BLEU 0 without smoothing;
    expect(bleu('a b c d e f', 'a b c x e f', { smooth: false })).toBe(0);
    // with add-one smoothing for n > 1: p2 = 4/6, p3 = 2/5, p4 = 1/4.
    const expected = Math.exp((Math.log(5 / 6) + Math.log(4 / 6) + Math.log(2 / 5) + Math.log(1 / 4)) / 4);
    expect(bleu('a b c d e f', 'a b c x e f')).toBeCloseTo(expected, 12);
  });

  it('tokenizes words and punctuation, case-insensitively', () => {
    expect(tokenize('Hello, World!')).toEqual(['hello', ',', 'world', '!']);
  });
});
