/**
 * Personal-data detectors: e-mail addresses, phone numbers, payment cards (issuer ranges + Luhn) and
 * IBANs (per-country length + ISO 7064 mod 97). Every pattern has bounded quantifiers and a boundary
 * look-behind, so a search is linear in the text.
 */
import { allSame, digitsOf, luhnValid, mod97 } from './checksums.js';
import { patternDetector, type Detector } from './detector.js';

/** File names look like addresses (`icon@2x.png`): their extensions are not accepted as top-level domains. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'avif', 'heic',
  'css', 'scss', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'json', 'html', 'htm', 'xml', 'yaml', 'yml', 'toml',
  'lock', 'log', 'txt', 'pdf', 'csv', 'svelte', 'vue', 'wasm', 'map',
]);

export const email = patternDetector('email', {
  // local@label.label.tld — the local part starts at a token boundary, labels are separated by dots, the
  // top-level domain is letters or an internationalised (punycode `xn--`) one.
  pattern: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}([A-Za-z]{2,24}|xn--[A-Za-z0-9]{1,59})(?![A-Za-z0-9-])/g,
  // A local part of up to 64 characters is recognised once `@x.yy` follows it.
  holdback: 64 + 6,
  prefilter: (text) => text.includes('@'),
  validate: (match) => (FILE_EXTENSIONS.has((match[1] as string).toLowerCase()) ? -1 : match.index + match[0].length),
});

/**
 * Phone numbers in the two forms that are not also ordinary numbers: international (`+44 20 7946 0958`,
 * `+1-415-555-0100`, 8–15 digits after the `+`) and North American (`(415) 555-0100`, `415-555-0100`,
 * `415.555.0100`, with valid area and exchange codes). Local formats of other countries are left to
 * `regex` guardrails: without a `+` they cannot be told from order numbers and amounts.
 */
export const phone = patternDetector('phone', {
  minDigits: 8,
  pattern: /(?<![\w+])(?:\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){1,6}|(?:\(\d{3}\)[ ]?|\d{3}([-.]))\d{3}[-. ]\d{4})(?![\w-])/g,
  holdback: 32,
  validate: (match) => {
    const text = match[0];
    const end = match.index + text.length;
    const digits = digitsOf(text);
    if (text.startsWith('+')) return digits.length >= 8 && digits.length <= 15 && balancedParentheses(text) ? end : -1;
    // North American: area code and exchange start with 2–9; one separator style throughout.
    if (digits.length !== 10 || digits[0] === '0' || digits[0] === '1' || digits[3] === '0' || digits[3] === '1') return -1;
    const separator = match[1];
    if (separator !== undefined && text[7] !== separator) return -1;
    return end;
  },
});

function balancedParentheses(text: string): boolean {
  const open = text.indexOf('(');
  const close = text.indexOf(')');
  if (open < 0 && close < 0) return true;
  return open >= 0 && close > open && text.indexOf('(', open + 1) < 0 && text.indexOf(')', close + 1) < 0;
}

/** Issuer ranges and the lengths each network issues. */
const CARD_NETWORKS: readonly { prefix: RegExp; lengths: readonly number[] }[] = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(?:5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^3(?:0[0-5]|09|[689])/, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
  { prefix: /^35(?:2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^(?:6011|64[4-9]|65)/, lengths: [16, 17, 18, 19] }, // Discover
  { prefix: /^62/, lengths: [16, 17, 18, 19] }, // UnionPay
  { prefix: /^220[0-4]/, lengths: [16, 17, 18, 19] }, // Mir
  { prefix: /^(?:50|5[6-9]|6)/, lengths: [12, 13, 14, 15, 16, 17, 18, 19] }, // Maestro, Dankort, RuPay…
  { prefix: /^8[12]/, lengths: [16] }, // RuPay
  { prefix: /^1/, lengths: [15] }, // UATP (AirPlus)
];

/**
 * Payment card numbers: 12–19 digits, written together or in groups separated by one kind of space or
 * dash, in a network's issuer range and length, passing Luhn, and not one digit repeated.
 */
export const paymentCard = patternDetector('payment_card', {
  minDigits: 12,
  pattern: /(?<![\d.,-])\d(?:[ -]?\d){11,18}(?![\d-]|[.,]\d)/g,
  holdback: 19 + 18,
  validate: (match) => {
    const text = match[0];
    const digits = digitsOf(text);
    if (!consistentSeparators(text) || allSame(digits)) return -1;
    const network = CARD_NETWORKS.find((n) => n.prefix.test(digits));
    if (!network || !network.lengths.includes(digits.length) || !luhnValid(digits)) return -1;
    return match.index + text.length;
  },
});

/** No separators, or one kind throughout (`4111 1111 1111 1111`, `3782-822463-10005`), never doubled. */
function consistentSeparators(text: string): boolean {
  let separator = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === ' ' || c === '-') {
      if (separator === '') separator = c;
      else if (c !== separator) return false;
    }
  }
  return true;
}

/** IBAN length per country (SWIFT's IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30,
  KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/**
 * IBANs, written together or in groups of four (separated by spaces or by dashes): a known country,
 * that country's exact length, and the ISO 7064 mod-97 check. The candidate pattern may run into a
 * following word (`DE89… AND`); the match is cut at the country's length.
 */
export const iban = patternDetector('iban', {
  minDigits: 2,
  pattern: /(?<![A-Za-z0-9-])([A-Z]{2})\d{2}(?:[ -]?[A-Z0-9]){11,30}(?![a-z0-9])/g,
  holdback: 34 + 8,
  validate: (match) => {
    const text = match[0];
    const length = IBAN_LENGTHS[match[1] as string];
    if (length === undefined) return -1;
    // Walk to the country's length; one kind of separator, only between groups of four.
    let compact = '';
    let separator = '';
    let i = 0;
    for (; i < text.length && compact.length < length; i++) {
      const c = text[i] as string;
      if (c === ' ' || c === '-') {
        if (compact.length % 4 !== 0 || (separator !== '' && c !== separator)) return -1;
        separator = c;
        continue;
      }
      compact += c;
    }
    if (compact.length !== length) return -1;
    // What follows must not continue the number.
    const next = text[i];
    if (next !== undefined && next !== ' ' && next !== '-') return -1;
    if (mod97(compact.slice(4) + compact.slice(0, 4)) !== 1) return -1;
    return match.index + i;
  },
});

export const PII_DETECTORS: readonly Detector[] = [email, phone, paymentCard, iban];
