/**
 * The text that text guardrails read: Unicode compatibility forms folded (NFKC: full-width `４１１１` is
 * `4111`, `＠` is `@`, a no-break space is a space) and invisible characters removed (zero-width spaces
 * and joiners, soft hyphens, bidi controls, variation selectors: every default-ignorable and format
 * character), so `ghp_…` with a zero-width space inside is still a GitHub token. Matches found in the
 * folded text are mapped back to the original, where redaction happens: a redacted span covers the
 * original characters, invisible ones included.
 *
 * This defeats accidental and lazy disguises, not a determined client (base64, homoglyphs, a secret spelt
 * out in words pass any pattern).
 *
 * Cost: a text is folded once per request and shared by every guardrail that reads it. Text that folds to
 * itself — ASCII, and most text in any script — is one native scan (ASCII) or one look-up per character
 * past ASCII, and no copy. Only clusters that change are normalised one by one, and the map back to the
 * original holds one entry per stretch that changed, not one per character.
 */

/** Characters that change nothing a reader sees: removed before checking. */
const IGNORABLES = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;
const IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;

/** What a BMP code unit does when folded, decided once at load (a 64 KB table). */
const SELF = 0; // folds to itself, alone and before anything that follows: copied as it is
const CLUSTER = 1; // starts a cluster that may fold to something else (or to nothing)
const ATTACHES = 2; // belongs to the character before it: a combining mark, a Hangul vowel or final jamo, a low surrogate
const KIND = new Uint8Array(0x10000);
{
  const mark = /^\p{M}$/u;
  for (let code = 0; code < 0x10000; code++) {
    if (code < 0xa0) continue; // ASCII and the C1 controls fold to themselves
    const char = String.fromCharCode(code);
    if ((code >= 0xdc00 && code <= 0xdfff) || (code >= 0x1160 && code <= 0x11ff) || (code >= 0xd7b0 && code <= 0xd7ff) || mark.test(char)) KIND[code] = ATTACHES;
    else if (code >= 0xd800 && code <= 0xdbff) KIND[code] = CLUSTER; // an astral character: looked at whole
    else KIND[code] = char.normalize('NFKC') === char && !IGNORABLE.test(char) ? SELF : CLUSTER;
  }
}

/** Past the first of these, a text may fold to something else; before it (ASCII and the C1 controls), it folds to itself. */
const PAST_C1 = /[^\x00-\x9f]/;

export interface FoldedText {
  /** The text as it arrived. */
  readonly original: string;
  /** What the checks read (the original itself when folding changes nothing). */
  readonly text: string;
  /** The original [start, end) of folded [start, end) (end > start). */
  originalStart(start: number): number;
  originalEnd(end: number): number;
}

/** `text` folded, with its map back to the original. */
export function foldText(text: string): FoldedText {
  const first = text.search(PAST_C1);
  if (first < 0) return unchanged(text);
  // Made at the first change: most text past ASCII folds to itself, and then costs no allocation.
  let map: FoldMap | undefined;
  const n = text.length;
  for (let i = first; i < n; ) {
    const kind = KIND[text.charCodeAt(i)] as number;
    if (kind === SELF) {
      i++;
      continue;
    }
    // A cluster: a base (the character before, for a mark that follows one copied as it is) and what attaches to it.
    const from = kind === ATTACHES && i > (map?.copyFrom ?? 0) ? i - 1 : i;
    let to = i + 1;
    while (to < n && KIND[text.charCodeAt(to)] === ATTACHES) to++;
    const out = to - from <= 2 ? foldShort(text, from, to) : foldCluster(text.slice(from, to));
    if (out !== undefined) (map ??= new FoldMap(text)).change(from, to, out);
    i = to;
  }
  return map ? map.finish() : unchanged(text);
}

function foldCluster(cluster: string): string | undefined {
  const visible = IGNORABLE.test(cluster) ? cluster.replace(IGNORABLES, '') : cluster;
  const out = visible === '' ? '' : visible.normalize('NFKC');
  return out === cluster ? undefined : out;
}

/** What one code point (or a BMP one and its mark) folds to, remembered: the common changed clusters are few. */
const SHORT = new Map<string, string | null>();
function foldShort(text: string, from: number, to: number): string | undefined {
  const cluster = text.slice(from, to);
  let out = SHORT.get(cluster);
  if (out === undefined) {
    out = foldCluster(cluster) ?? null;
    if (SHORT.size < 16_384) SHORT.set(cluster, out);
  }
  return out ?? undefined;
}

function unchanged(text: string): FoldedText {
  return new UnchangedText(text);
}

/** Text that folds to itself (a class, not closures: made for every text checked, it must cost nothing). */
class UnchangedText implements FoldedText {
  constructor(readonly original: string) {}

  get text(): string {
    return this.original;
  }

  originalStart(start: number): number {
    return Math.min(start, this.original.length);
  }

  originalEnd(end: number): number {
    return end;
  }
}

/**
 * The folded text as stretches, each either mapped unit for unit (text copied as it is, and characters
 * that fold to one character) or what one cluster folded to. Kept as parallel arrays of small integers,
 * one entry per stretch: text that folds to itself but for a few characters has a few entries.
 */
class FoldMap {
  /** Where the text not yet added (it folds to itself) starts in the original. */
  copyFrom = 0;
  private readonly parts: string[] = [];
  private foldedLength = 0;
  /** The unit-for-unit stretch being built: where it starts in the original and in the folded text. */
  private openFrom = 0;
  private openFoldedFrom = 0;
  /** Per stretch: where it starts in the folded text and in the original, its folded length, where it ends in the original (removed characters after it included), and whether it maps unit for unit. */
  readonly foldedStarts: number[] = [];
  readonly originalStarts: number[] = [];
  readonly lengths: number[] = [];
  readonly originalEnds: number[] = [];
  readonly unitForUnit: boolean[] = [];

  constructor(private readonly original: string) {}

  /** The original [from, to) folds to `out` (which may be empty: invisible characters only). */
  change(from: number, to: number, out: string): void {
    this.copyUpTo(from);
    this.copyFrom = to;
    if (out.length === 1 && to - from === 1) {
      this.add(out);
      return;
    }
    this.closeOpen(from);
    if (out === '') {
      // Removed: it belongs to what comes before, so a match running to it runs through it.
      const last = this.originalEnds.length - 1;
      if (last >= 0) this.originalEnds[last] = to;
    } else {
      this.record(this.foldedLength, from, out.length, to, false);
      this.add(out);
    }
    this.openFrom = to;
    this.openFoldedFrom = this.foldedLength;
  }

  finish(): FoldedText {
    this.copyUpTo(this.original.length);
    this.closeOpen(this.original.length);
    return new MappedText(this.original, this.parts.join(''), this);
  }

  private copyUpTo(to: number): void {
    if (to > this.copyFrom) this.add(this.original.slice(this.copyFrom, to));
    this.copyFrom = to;
  }

  private add(out: string): void {
    this.parts.push(out);
    this.foldedLength += out.length;
  }

  /** Ends the unit-for-unit stretch at `to` in the original. */
  private closeOpen(to: number): void {
    if (to > this.openFrom) this.record(this.openFoldedFrom, this.openFrom, to - this.openFrom, to, true);
  }

  private record(foldedStart: number, from: number, length: number, to: number, unitForUnit: boolean): void {
    this.foldedStarts.push(foldedStart);
    this.originalStarts.push(from);
    this.lengths.push(length);
    this.originalEnds.push(to);
    this.unitForUnit.push(unitForUnit);
  }
}

/** Text that folding changed, with the stretches that map it back. */
class MappedText implements FoldedText {
  constructor(
    readonly original: string,
    readonly text: string,
    private readonly map: Pick<FoldMap, 'foldedStarts' | 'originalStarts' | 'lengths' | 'originalEnds' | 'unitForUnit'>,
  ) {}

  originalStart(start: number): number {
    if (start >= this.text.length) return this.original.length;
    const { originalStarts, foldedStarts, unitForUnit } = this.map;
    const s = this.stretchOf(start);
    return (originalStarts[s] as number) + (unitForUnit[s] ? start - (foldedStarts[s] as number) : 0);
  }

  originalEnd(end: number): number {
    if (end <= 0) return 0;
    const { originalStarts, foldedStarts, lengths, originalEnds, unitForUnit } = this.map;
    const s = this.stretchOf(end - 1);
    const within = end - (foldedStarts[s] as number);
    return unitForUnit[s] && within < (lengths[s] as number) ? (originalStarts[s] as number) + within : (originalEnds[s] as number);
  }

  /** The stretch holding folded unit `at` (a binary search). */
  private stretchOf(at: number): number {
    const { foldedStarts } = this.map;
    let low = 0;
    let high = foldedStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((foldedStarts[middle] as number) <= at) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
