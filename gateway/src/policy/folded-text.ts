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
 */

/** Characters that change nothing a reader sees: removed before checking. */
const IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;
const IGNORABLES = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;
/**
 * A fast first look for them (a property class costs five times as much per KB): a table of their BMP
 * ranges as of Unicode 16 and of the lead surrogates of their astral ones, read only at characters past
 * Latin-1's first. It may say yes where IGNORABLE says no, never the reverse (a unit test checks every code
 * point).
 */
const MAYBE_IGNORABLE = new Uint8Array(0x10000);
for (const [from, to] of [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x0600, 0x0605], [0x061c, 0x061c], [0x06dd, 0x06dd], [0x070f, 0x070f],
  [0x0890, 0x0891], [0x08e2, 0x08e2], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f], [0x200b, 0x200f],
  [0x202a, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0],
  [0xfff0, 0xfffb],
  // Lead surrogates of U+110BD, U+110CD, U+13430–U+1343F, U+1BCA0–U+1BCA3, U+1D173–U+1D17A, U+E0000–U+E0FFF.
  [0xd804, 0xd804], [0xd80d, 0xd80d], [0xd82f, 0xd82f], [0xd834, 0xd834], [0xdb40, 0xdb43],
] as const) MAYBE_IGNORABLE.fill(1, from, to + 1);
const PAST_LATIN1_SPECIALS = /[\u00ad-\uffff]/g;

function mayHaveIgnorable(text: string): boolean {
  PAST_LATIN1_SPECIALS.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = PAST_LATIN1_SPECIALS.exec(text)) !== null) if (MAYBE_IGNORABLE[text.charCodeAt(match.index)] === 1) return true;
  return false;
}

/** One base character with the combining marks after it (NFKC composes within it), or marks alone. */
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;
/** Text whose every character folds to itself and none is ignorable: ASCII and the C1 controls. */
const STABLE = /^[\x00-\x9f]*$/;

export interface FoldedText {
  /** What the checks read. */
  readonly text: string;
  /** The original [start, end) of folded [start, end) (end > start). */
  originalStart(start: number): number;
  originalEnd(end: number): number;
}

/** The folded form of `text`, or undefined when folding changes nothing (the common case: no cost). */
export function foldText(text: string): FoldedText | undefined {
  if (STABLE.test(text)) return undefined;
  if (text.normalize('NFKC') === text && !mayHaveIgnorable(text)) return undefined;
  let folded = '';
  // For each UTF-16 unit of the folded text: where its cluster starts and ends in the original.
  const starts: number[] = [];
  const ends: number[] = [];
  CLUSTER.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = CLUSTER.exec(text)) !== null) {
    const cluster = match[0];
    const end = match.index + cluster.length;
    if (cluster.length === 1 && cluster.charCodeAt(0) < 0xa0) {
      folded += cluster;
      starts.push(match.index);
      ends.push(end);
      continue;
    }
    const visible = IGNORABLE.test(cluster) ? cluster.replace(IGNORABLES, '') : cluster;
    if (visible === '') {
      // Removed: it belongs to what comes before, so a match running to it runs through it.
      if (ends.length > 0) ends.fill(end, ends.length - lastClusterLength(starts));
      continue;
    }
    const out = visible.normalize('NFKC');
    folded += out;
    for (let i = 0; i < out.length; i++) {
      starts.push(match.index);
      ends.push(end);
    }
  }
  return {
    text: folded,
    originalStart: (start) => (start < starts.length ? (starts[start] as number) : text.length),
    originalEnd: (end) => (end > 0 ? (ends[end - 1] as number) : 0),
  };
}

/** How many folded units the last cluster produced (they share its original start). */
function lastClusterLength(starts: readonly number[]): number {
  const last = starts[starts.length - 1];
  let n = 0;
  for (let i = starts.length - 1; i >= 0 && starts[i] === last; i--) n++;
  return n;
}
