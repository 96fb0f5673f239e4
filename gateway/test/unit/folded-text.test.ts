/** The text guardrails read: folded (NFKC, invisible characters removed), with offsets mapped back. */
import { describe, expect, it } from 'vitest';
import { foldText } from '../../src/policy/folded-text.js';

/** Each folded character with the original text it came from. */
function origins(text: string): [string, string][] | undefined {
  const folded = foldText(text);
  if (!folded) return undefined;
  return [...folded.text].map((char, i) => [char, text.slice(folded.originalStart(i), folded.originalEnd(i + 1))]);
}

describe('folded text', () => {
  it('leaves text that folding does not change alone (no copy, no map)', () => {
    expect(foldText('plain ASCII, tabs\tand\nnewlines')).toBeUndefined();
    expect(foldText('Grüße, Привет, 你好, ° × –')).toBeUndefined();
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
  });

  it('removes every default-ignorable and format code point this Node knows', () => {
    const property = /^[\p{Default_Ignorable_Code_Point}\p{Cf}]$/u;
    const missed: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCodePoint(code);
      if (property.test(char) && foldText(`a${char}b`)?.text !== 'ab') missed.push(code.toString(16));
    }
    expect(missed).toEqual([]);
  });
});
