/**
 * National identification numbers that carry a check digit, so a detector can tell them from other
 * numbers. Forms that are distinctive by themselves (letters with digits, a date followed by a
 * separator, a dotted CPF) are reported wherever they appear; a bare run of digits that merely passes a
 * checksum (a 9–12 digit number passes one in ten) is reported only with a word naming the identifier
 * (`PESEL`, `Aadhaar`, `BSN`, …) within 48 characters of it.
 *
 * US Social Security numbers have no check digit and are not here (a `regex` guardrail can add them).
 */
import { allSame, digitsOf, luhnValid, verhoeffValid, weightedSum } from './checksums.js';
import { hasContext, patternDetector, type Detector } from './detector.js';

const end = (match: RegExpExecArray): number => match.index + match[0].length;

/** A naming word may follow the number ("… är mitt pnr"): streams hold that much more back. */
const CONTEXT_SPAN = 48;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A day that exists in the month (29 February in any year: the year is often not known). */
function validDate(day: number, month: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= (DAYS_IN_MONTH[month - 1] as number);
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spain: DNI/NIF, 7–8 digits and a letter (the number mod 23). */
export const esNif = patternDetector('es_nif', {
  minDigits: 7,
  pattern: /(?<![A-Za-z0-9])(\d{7,8})-?([A-Za-z])(?![A-Za-z0-9])/g,
  holdback: 10 + CONTEXT_SPAN,
  validate: (match) => (DNI_LETTERS[Number(match[1]) % 23] === (match[2] as string).toUpperCase() ? end(match) : -1),
});

/** Spain: NIE, X/Y/Z (0/1/2) + 7 digits + the DNI letter. */
export const esNie = patternDetector('es_nie', {
  minDigits: 7,
  pattern: /(?<![A-Za-z0-9])([XYZxyz])(\d{7})-?([A-Za-z])(?![A-Za-z0-9])/g,
  holdback: 10 + CONTEXT_SPAN,
  validate: (match) => {
    const number = Number(`${'XYZ'.indexOf((match[1] as string).toUpperCase())}${match[2]}`);
    return DNI_LETTERS[number % 23] === (match[3] as string).toUpperCase() ? end(match) : -1;
  },
});

/** The value of a character at an odd (1st, 3rd, …) position; digits count like the letters A–J. */
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/** Italy: codice fiscale, 16 characters, the last a check letter over the other fifteen (as written). */
export const itCodiceFiscale = patternDetector('it_codice_fiscale', {
  pattern: /(?<![A-Za-z0-9])[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z](?![A-Za-z0-9])/g,
  holdback: 16 + CONTEXT_SPAN,
  validate: (match) => {
    const code = match[0];
    let sum = 0;
    for (let i = 0; i < 15; i++) {
      const c = code.charCodeAt(i);
      const value = c <= 57 ? c - 48 : c - 65;
      sum += i % 2 === 0 ? (CF_ODD[value] as number) : value;
    }
    return String.fromCharCode(65 + (sum % 26)) === code[15] ? end(match) : -1;
  },
});

const HETU_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';

/** Finland: henkilötunnus DDMMYY, century sign, 3-digit individual number, check character (mod 31). */
export const fiHetu = patternDetector('fi_hetu', {
  minDigits: 9,
  pattern: /(?<!\d)(\d{2})(\d{2})(\d{2})[-+ABCDEFYXWVU](\d{3})([0-9A-Y])(?![A-Za-z0-9])/g,
  holdback: 11 + CONTEXT_SPAN,
  validate: (match) => {
    if (!validDate(Number(match[1]), Number(match[2]))) return -1;
    const number = Number(`${match[1]}${match[2]}${match[3]}${match[4]}`);
    return HETU_CHECK[number % 31] === match[5] ? end(match) : -1;
  },
});

/**
 * Sweden: personnummer (or samordningsnummer, day + 60), YYMMDD or YYYYMMDD, Luhn over the last ten
 * digits. With its `-`/`+` separator anywhere; as bare digits only after a naming word.
 */
export const sePersonnummer = patternDetector('se_personnummer', {
  minDigits: 10,
  pattern: /(?<![\d-])(?:18|19|20)?(\d{2})(\d{2})(\d{2})([-+]?)(\d{4})(?![\d-])/g,
  holdback: 13 + CONTEXT_SPAN,
  validate: (match, text) => {
    const day = Number(match[3]);
    if (!validDate(day > 60 ? day - 60 : day, Number(match[2]))) return -1;
    if (match[4] === '' && !hasContext(text, match.index, end(match), ['personnummer', 'personnr', 'pnr', 'samordningsnummer', 'personal identity'])) return -1;
    return luhnValid(`${match[1]}${match[2]}${match[3]}${match[5]}`) ? end(match) : -1;
  },
});

const PESEL_WEIGHTS = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

/** Poland: PESEL, 11 digits encoding the birth date, weighted check digit; only after "PESEL". */
export const plPesel = patternDetector('pl_pesel', {
  minDigits: 11,
  pattern: /(?<!\d)\d{2}([0-9]{2})([0-9]{2})\d{5}(?!\d)/g,
  holdback: 11 + CONTEXT_SPAN,
  validate: (match, text) => {
    const month = Number(match[1]) % 20;
    if (!validDate(Number(match[2]), month)) return -1;
    if (!hasContext(text, match.index, end(match), ['pesel'])) return -1;
    const digits = match[0];
    return (10 - (weightedSum(digits, PESEL_WEIGHTS) % 10)) % 10 === Number(digits[10]) ? end(match) : -1;
  },
});

/** India: Aadhaar, 12 digits starting 2–9, Verhoeff check; in groups of four anywhere, bare only after "Aadhaar". */
export const inAadhaar = patternDetector('in_aadhaar', {
  minDigits: 12,
  pattern: /(?<![\d:-])[2-9]\d{3}([ :-]?)\d{4}\1\d{4}(?![\d:-])/g,
  holdback: 14 + CONTEXT_SPAN,
  validate: (match, text) => {
    const digits = digitsOf(match[0]);
    if (match[1] === '' && !hasContext(text, match.index, end(match), ['aadhaar', 'aadhar', 'uidai', 'आधार'])) return -1;
    return verhoeffValid(digits) && !allSame(digits) ? end(match) : -1;
  },
});

/**
 * Canada: social insurance number, 9 digits with Luhn, never starting 0 or 8; in groups of three (one
 * separator style) anywhere, bare only after "SIN", "NAS" or "social insurance".
 */
export const caSin = patternDetector('ca_sin', {
  minDigits: 9,
  pattern: /(?<![\d-])\d{3}([ -]?)\d{3}\1\d{3}(?![\d-])/g,
  holdback: 11 + CONTEXT_SPAN,
  validate: (match, text) => {
    const digits = digitsOf(match[0]);
    if (digits[0] === '0' || digits[0] === '8' || allSame(digits)) return -1;
    if (match[1] === '' && !hasContext(text, match.index, end(match), ['sin', 'nas', 'social insurance', 'assurance sociale'])) return -1;
    return luhnValid(digits) ? end(match) : -1;
  },
});

/** UK: NHS number, 10 digits, mod-11 check digit; only after "NHS" (its 3-3-4 form is also a phone number's). */
export const ukNhs = patternDetector('uk_nhs', {
  minDigits: 10,
  pattern: /(?<![\d-])\d{3}([ -]?)\d{3}\1\d{4}(?![\d-])/g,
  holdback: 12 + CONTEXT_SPAN,
  validate: (match, text) => {
    const digits = digitsOf(match[0]);
    if (allSame(digits) || !hasContext(text, match.index, end(match), ['nhs'])) return -1;
    const check = 11 - (weightedSum(digits, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
    return (check === 11 ? 0 : check) === Number(digits[9]) ? end(match) : -1;
  },
});

/** Brazil: CPF, 11 digits with two mod-11 check digits; `000.000.000-00` anywhere, bare only after "CPF". */
export const brCpf = patternDetector('br_cpf', {
  minDigits: 11,
  pattern: /(?<![\d.-])\d{3}(\.?)\d{3}\1\d{3}-?\d{2}(?![\d-]|\.\d)/g,
  holdback: 14 + CONTEXT_SPAN,
  validate: (match, text) => {
    const digits = digitsOf(match[0]);
    const formatted = match[1] === '.' && match[0].includes('-');
    if (allSame(digits) || (!formatted && !hasContext(text, match.index, end(match), ['cpf']))) return -1;
    const check = (length: number): number => {
      let sum = 0;
      for (let i = 0; i < length; i++) sum += (digits.charCodeAt(i) - 48) * (length + 1 - i);
      const rest = (sum * 10) % 11;
      return rest === 10 ? 0 : rest;
    };
    return check(9) === Number(digits[9]) && check(10) === Number(digits[10]) ? end(match) : -1;
  },
});

/** Netherlands: BSN, 9 digits passing the "11-proof"; only after "BSN" or "burgerservicenummer". */
export const nlBsn = patternDetector('nl_bsn', {
  minDigits: 9,
  pattern: /(?<![\d.-])\d{4}(\.?)\d{2}\1\d{3}(?![\d-]|\.\d)/g,
  holdback: 11 + CONTEXT_SPAN,
  validate: (match, text) => {
    const digits = digitsOf(match[0]);
    if (allSame(digits) || !hasContext(text, match.index, end(match), ['bsn', 'burgerservicenummer', 'sofinummer'])) return -1;
    const sum = weightedSum(digits, [9, 8, 7, 6, 5, 4, 3, 2]) - Number(digits[8]);
    return sum % 11 === 0 ? end(match) : -1;
  },
});

export const NATIONAL_ID_DETECTORS: readonly Detector[] = [esNif, esNie, itCodiceFiscale, fiHetu, sePersonnummer, plPesel, inAadhaar, caSin, ukNhs, brCpf, nlBsn];
