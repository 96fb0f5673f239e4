/**
 * Answer agreement between a primary answer and a shadow answer, from the published definitions:
 *
 * - ROUGE-L (Lin, 2004): the longest common subsequence of tokens; recall = LCS / |reference|,
 *   precision = LCS / |candidate|, F = (1 + β²)·P·R / (R + β²·P). β = 1 gives the usual F1.
 * - BLEU (Papineni et al., 2002): the geometric mean of modified (clipped) n-gram precisions for
 *   n = 1..4, times the brevity penalty BP = 1 if c > r else exp(1 − r/c). For single sentences a zero
 *   n-gram match would zero the whole score, so `smooth` applies add-one smoothing to n > 1
 *   (Lin & Och, 2004), as sentence-level BLEU usually does.
 *
 * Tokens are lower-cased words and punctuation marks.
 */

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

function lcsLength(a: readonly string[], b: readonly string[]): number {
  // Two rows of the DP table are enough: O(|a|·|b|) time, O(|b|) memory.
  let previous = new Array<number>(b.length + 1).fill(0);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? (previous[j - 1] as number) + 1 : Math.max(previous[j] as number, current[j - 1] as number);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length] as number;
}

export interface RougeL {
  precision: number;
  recall: number;
  f: number;
}

export function rougeL(reference: string | readonly string[], candidate: string | readonly string[], beta = 1): RougeL {
  const ref = typeof reference === 'string' ? tokenize(reference) : reference;
  const cand = typeof candidate === 'string' ? tokenize(candidate) : candidate;
  if (ref.length === 0 || cand.length === 0) return { precision: 0, recall: 0, f: 0 };
  const lcs = lcsLength(ref, cand);
  const recall = lcs / ref.length;
  const precision = lcs / cand.length;
  const f = precision + recall === 0 ? 0 : ((1 + beta * beta) * precision * recall) / (recall + beta * beta * precision);
  return { precision, recall, f };
}

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const gram = tokens.slice(i, i + n).join('\u0001');
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

export interface BleuOptions {
  maxN?: number;
  smooth?: boolean;
}

export function bleu(reference: string | readonly string[], candidate: string | readonly string[], options: BleuOptions = {}): number {
  const maxN = options.maxN ?? 4;
  const smooth = options.smooth ?? true;
  const ref = typeof reference === 'string' ? tokenize(reference) : reference;
  const cand = typeof candidate === 'string' ? tokenize(candidate) : candidate;
  if (cand.length === 0 || ref.length === 0) return 0;
  let logSum = 0;
  for (let n = 1; n <= maxN; n++) {
    const candidateGrams = ngrams(cand, n);
    const referenceGrams = ngrams(ref, n);
    let matches = 0;
    let total = 0;
    for (const [gram, count] of candidateGrams) {
      matches += Math.min(count, referenceGrams.get(gram) ?? 0);
      total += count;
    }
    if (smooth && n > 1) {
      matches += 1;
      total += 1;
    }
    if (matches === 0 || total === 0) return 0;
    logSum += Math.log(matches / total) / maxN;
  }
  const brevity = cand.length > ref.length ? 1 : Math.exp(1 - ref.length / cand.length);
  return brevity * Math.exp(logSum);
}
