/** The text guardrails read: folded (NFKC, invisible characters removed), with offsets mapped back. */
import { describe, expect, it } from 'vitest';
import { foldText } from '../../src/policy/folded-text.js';

/** Each folded character with the original text it came from. */
function origins(text: string): [string, string][] {
  const folded = foldText(text);
  return [...folded.text].map((char, i) => [char, text.slice(folded.originalStart(i), folded.originalEnd(i + 1))]);
}

describe('folded text', () => {
  it('leaves text that folding does not change alone (no copy, no map)', () => {
    for (const text of ['plain ASCII, tabs\tand\nnewlines', 'Grüße, Привет, 你好, ° × –', '']) {
      const folded = foldText(text);
      expect(folded.text).toBe(text);
      expect([folded.originalStart(1), folded.originalEnd(2)]).toEqual([Math.min(1, text.length), 2]);
    }
  });

  it('folds compatibility forms and maps every folded character back to what it came from', () => {
    expect(origins('４２＠ｘ')).toEqual([['4', '４'], ['2', '２'], ['@', '＠'], ['x', 'ｘ']]);
    // One character may fold to several (a ligature), a base and its marks to one.
    expect(origins('ﬁ e\u0301')).toEqual([['f', 'ﬁ'], ['i', 'ﬁ'], [' ', ' '], ['é', 'e\u0301']]);
    expect(origins('a\u00a0b')).toEqual([['a', 'a'], [' ', '\u00a0'], ['b', 'b']]);
  });

  it('removes invisible characters; a removed one belongs to the character before it', () => {
    expect(origins('a\u200bb\u2060')).toEqual([['a', 'a\u200b'], ['b', 'b\u2060']]);
    expect(origins('\ufeffx\u{E0041}')).toEqual([['x', 'x\u{E0041}']]);
    expect(origins('a\ufe0f')).toEqual([['a', 'a\ufe0f']]);
    expect(origins('\u200bab')).toEqual([['a', 'a'], ['b', 'b']]);
    expect(origins('\u200b\u200b')).toEqual([]);
  });

  it('removes every default-ignorable and format code point this Node knows', () => {
    const property = /^[\p{Default_Ignorable_Code_Point}\p{Cf}]$/u;
    const missed: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCodePoint(code);
      if (property.test(char) && foldText(`a${char}b`).text !== 'ab') missed.push(code.toString(16));
    }
    expect(missed).toEqual([]);
  });

  it('folds decomposed text as NFKC folds it whole: a mark or jamo joins the character before it, ASCII included', () => {
    const differ: string[] = [];
    for (let code = 0xa0; code < 0x10000; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const decomposed = String.fromCharCode(code).normalize('NFD');
      if (decomposed.length < 2) continue;
      const expected = `x${decomposed}y`.normalize('NFKC').replace(/[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu, '');
      if (foldText(`x${decomposed}y`).text !== expected) differ.push(code.toString(16));
    }
    expect(differ).toEqual([]);
    expect(origins('cafe\u0301!')).toEqual([['c', 'c'], ['a', 'a'], ['f', 'f'], ['é', 'e\u0301'], ['!', '!']]);
  });

  it('maps across long unchanged stretches and many changed ones (one map entry per stretch)', () => {
    const text = `${'a'.repeat(5000)}\u200b${'中'.repeat(3000)}４${'b'.repeat(10)}\u200b`;
    const folded = foldText(text);
    expect(folded.text).toBe(`${'a'.repeat(5000)}${'中'.repeat(3000)}4${'b'.repeat(10)}`);
    expect([folded.originalStart(4999), folded.originalEnd(5000), folded.originalStart(5000), folded.originalStart(8000), folded.originalEnd(8011)]).toEqual([4999, 5001, 5001, 8001, 8013]);
  });
});
