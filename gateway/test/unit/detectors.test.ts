/**
 * The built-in detectors on realistic samples: Microsoft Presidio's own test samples (where we differ
 * from Presidio, on purpose, the difference is listed with its reason), credentials in their issuers'
 * formats, a corpus of real text with no personal data or secrets in it, random look-alikes to measure
 * how often a number that merely has the right shape is reported, and adversarial inputs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PII_CATALOGUE, SECRET_CATALOGUE, selectDetectors } from '../../src/policy/detectors/catalogue.js';
import { luhnValid, mod97, verhoeffValid } from '../../src/policy/detectors/checksums.js';
import type { Detector } from '../../src/policy/detectors/detector.js';
import { PRESIDIO_SAMPLES } from '../fixtures/detectors/presidio-samples.js';
import { seededRandom } from '../helpers/seeded-random.js';

const ALL: Detector[] = [...PII_CATALOGUE.values(), ...SECRET_CATALOGUE.values()];

function findings(detector: Detector, text: string): string[] {
  const out: string[] = [];
  detector.scan(text, (start, end) => out.push(text.slice(start, end)));
  return out;
}

function everyFinding(text: string): string[] {
  return ALL.flatMap((detector) => findings(detector, text).map((found) => `${detector.name}: ${found}`));
}

/**
 * Where we report differently from Presidio, and why. A bare run of digits is reported only with a word
 * naming the identifier near it (Presidio reports it with a low score): each such sample must then be
 * found once the word is there.
 */
const DEVIATIONS: Record<string, { samples: string[]; reason: string; withContext?: string }> = {
  it_codice_fiscale: {
    samples: ['AAAAAA00B11C333N', 'AAAAAA00B11C333Y and AAAAAA00B11C333N'],
    reason: 'a wrong check character is rejected (Presidio reports it at a lower score)',
  },
  se_personnummer: {
    samples: ['189004119807', '191005059801', '198712202384', '199201232387', '9201232387', '201109252385', 'My swedish id code is199003052397.'],
    reason: 'bare digits need a naming word',
    withContext: 'personnummer',
  },
  pl_pesel: { samples: ['44051401458', '02070803628', '11111111116'], reason: 'bare digits need a naming word', withContext: 'PESEL' },
  in_aadhaar: { samples: ['312345678909', '399876543211'], reason: 'bare digits need a naming word', withContext: 'Aadhaar' },
  ca_sin: { samples: ['130692544', '550090112'], reason: 'bare digits need a naming word', withContext: 'SIN' },
  uk_nhs: { samples: ['401-023-2137', '221 395 1837', '0032698674'], reason: 'the 3-3-4 form is also a phone number', withContext: 'NHS number' },
  phone: {
    samples: ['My Israeli number is 09-7625400', 'My Japanese number is 090-1234-5678', 'My CN number is 13812345678'],
    reason: 'local formats without a country code cannot be told from other numbers',
  },
};

describe("detectors on Presidio's samples", () => {
  for (const [name, set] of Object.entries(PRESIDIO_SAMPLES)) {
    it(`${name}: ${set.samples.length} samples from ${set.file}`, () => {
      const detector = PII_CATALOGUE.get(name)!;
      const deviation = DEVIATIONS[name];
      for (const [text, expected] of set.samples) {
        const found = findings(detector, text);
        if (deviation?.samples.includes(text)) {
          expect([text, found.length]).not.toEqual([text, expected]);
          if (deviation.withContext) expect([text, findings(detector, `my ${deviation.withContext}: ${text}`).length]).toEqual([text, 1]);
        } else {
          expect([text, found.length]).toEqual([text, expected]);
        }
      }
    });
  }

  it('finds the whole identifier, not a part of it', () => {
    expect(findings(PII_CATALOGUE.get('iban')!, 'pay to DE89 3704 0044 0532 0130 00 AND nothing else')).toEqual(['DE89 3704 0044 0532 0130 00']);
    expect(findings(PII_CATALOGUE.get('payment_card')!, 'card 4012 8888 8888 1881, exp 12/27')).toEqual(['4012 8888 8888 1881']);
    expect(findings(PII_CATALOGUE.get('email')!, 'write to jane.doe+news@mail.example.co.uk.')).toEqual(['jane.doe+news@mail.example.co.uk']);
    expect(findings(PII_CATALOGUE.get('phone')!, 'call +44 (20) 7123 4567 today')).toEqual(['+44 (20) 7123 4567']);
    expect(findings(PII_CATALOGUE.get('br_cpf')!, 'CPF 529.982.247-25.')).toEqual(['529.982.247-25']);
    expect(findings(PII_CATALOGUE.get('nl_bsn')!, 'mijn BSN is 111222333')).toEqual(['111222333']);
    expect(findings(PII_CATALOGUE.get('nl_bsn')!, 'order 111222333')).toEqual([]);
  });
});

describe('credential detectors', () => {
  const secret = (name: string) => SECRET_CATALOGUE.get(name)!;
  const random = seededRandom(99);
  const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const samples: [string, string][] = [
    ['openai_key', `sk-proj-${chars(`${ALNUM}_-`, 74)}T3BlbkFJ${chars(`${ALNUM}_-`, 74)}`],
    ['openai_key', `sk-${chars(ALNUM, 48)}`],
    ['anthropic_key', `sk-ant-api03-${chars(`${ALNUM}_-`, 93)}AA`],
    // AWS's own documentation example.
    ['aws_access_key', 'AKIAIOSFODNN7EXAMPLE'],
    ['github_token', `ghp_${chars(ALNUM, 36)}`],
    ['github_token', `github_pat_11${chars(ALNUM, 20)}_${chars(ALNUM, 59)}`],
    ['gitlab_token', `glpat-${chars(ALNUM, 20)}`],
    ['slack_token', `xoxb-123456789012-1234567890123-${chars(ALNUM, 24)}`],
    ['stripe_key', `sk_live_${chars(ALNUM, 24)}`],
    ['stripe_key', `rk_test_${chars(ALNUM, 99)}`],
    ['google_api_key', `AIza${chars(`${ALNUM}_-`, 35)}`],
    ['huggingface_token', `hf_${chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 34)}`],
    ['npm_token', `npm_${chars(ALNUM, 36)}`],
    ['sendgrid_key', `SG.${chars(ALNUM, 22)}.${chars(ALNUM, 43)}`],
    ['groq_key', `gsk_${chars(ALNUM, 52)}`],
    // jwt.io's example token.
    ['jwt', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'],
  ];

  it('find each provider token in a sentence, whole, and name it', () => {
    for (const [name, token] of samples) {
      const text = `here is my key ${token}, please keep it safe`;
      expect([name, findings(secret(name), text)]).toEqual([name, [token]]);
    }
  });

  it('do not confuse providers: an Anthropic key is not an OpenAI key', () => {
    const anthropic = samples.find(([name]) => name === 'anthropic_key')![1];
    expect(findings(secret('openai_key'), anthropic)).toEqual([]);
  });

  it('take a PEM private key whole, and everything after a BEGIN line without its END', () => {
    const pem = ['-----BEGIN OPENSSH PRIVATE KEY-----', chars(`${ALNUM}+/`, 70), chars(`${ALNUM}+/`, 70), '-----END OPENSSH PRIVATE KEY-----'].join('\n');
    expect(findings(secret('private_key'), `key:\n${pem}\nthanks`)).toEqual([pem]);
    const cut = `key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC`;
    expect(findings(secret('private_key'), cut)).toEqual([cut.slice(5)]);
    expect(findings(secret('private_key'), '-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----')).toEqual([]);
  });
});

describe('no findings in text without personal data or secrets', () => {
  const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
  const corpus: [string, string][] = [
    ['a hand-written corpus of look-alikes', 'gateway/test/fixtures/detectors/benign-text.md'],
    ['npm lock file: hashes, versions, URLs', 'package-lock.json'],
    ["OpenAI's chat completion schemas", 'gateway/test/fixtures/openai/chat-completion-schemas.json'],
    ['recorded Anthropic stream (ids, JSON)', 'gateway/test/fixtures/recorded/anthropic/tool-use-stream.sse'],
    ['recorded Gemini stream (signatures, base64)', 'gateway/test/fixtures/recorded/gemini/googleai-streaming-success-thinking-function-call-thought-summary-signature.txt'],
    ['the dashboard’s code', 'dashboard/app.js'],
  ];
  for (const [what, path] of corpus) {
    it(what, () => {
      expect(everyFinding(readFileSync(root(path), 'utf8'))).toEqual([]);
    });
  }
});

/**
 * How often a number of the right shape is reported, measured over random look-alikes (seeded, so the
 * numbers are the same every run). These rates are in the README.
 */
describe('measured false-positive behaviour on random look-alikes', () => {
  const random = seededRandom(2024);
  const digits = (n: number, first = '') => first + Array.from({ length: n - first.length }, () => Math.floor(random() * 10)).join('');
  const rate = (detector: Detector, make: () => string, n = 20_000): number => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (findings(detector, make()).length > 0) hits++;
    return hits / n;
  };

  it('payment cards: a random 16-digit number in an issuer range passes one time in ten (Luhn), outside the ranges never', () => {
    const card = PII_CATALOGUE.get('payment_card')!;
    const visa = rate(card, () => digits(16, '4'));
    expect(visa).toBeGreaterThan(0.09);
    expect(visa).toBeLessThan(0.11);
    expect(rate(card, () => digits(16, '7'))).toBe(0);
    expect(rate(card, () => digits(17, '4'))).toBe(0);
    expect(rate(card, () => digits(16, '4').replace(/(\d{4})(?=\d)/g, '$1 ').replace(/ (\d{4})$/, '-$1'))).toBe(0);
  });

  it('IBANs: a random number with a country code passes one time in 97', () => {
    const ibanRate = rate(PII_CATALOGUE.get('iban')!, () => `DE${digits(20)}`);
    expect(ibanRate).toBeGreaterThan(0.005);
    expect(ibanRate).toBeLessThan(0.016);
    expect(rate(PII_CATALOGUE.get('iban')!, () => `ZZ${digits(20)}`)).toBe(0);
  });

  it('bare digits are never a national id without a naming word; with one, only the checksum filters', () => {
    const bare: [string, number][] = [['pl_pesel', 11], ['in_aadhaar', 12], ['ca_sin', 9], ['uk_nhs', 10], ['nl_bsn', 9], ['br_cpf', 11], ['se_personnummer', 10]];
    for (const [name, length] of bare) {
      expect([name, rate(PII_CATALOGUE.get(name)!, () => `number ${digits(length, '3')} here`, 5000)]).toEqual([name, 0]);
    }
    const bsn = rate(PII_CATALOGUE.get('nl_bsn')!, () => `BSN ${digits(9, '3')}`);
    expect(bsn).toBeGreaterThan(0.07);
    expect(bsn).toBeLessThan(0.11);
    const aadhaar = rate(PII_CATALOGUE.get('in_aadhaar')!, () => `${digits(4, '5')} ${digits(4)} ${digits(4)}`);
    expect(aadhaar).toBeGreaterThan(0.08);
    expect(aadhaar).toBeLessThan(0.12);
  });

  it('Spanish DNI letters: a random letter after 8 digits is right one time in 23', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const dni = rate(PII_CATALOGUE.get('es_nif')!, () => `${digits(8)}${letters[Math.floor(random() * 26)]}`);
    expect(dni).toBeGreaterThan(0.03);
    expect(dni).toBeLessThan(0.055);
  });
});

describe('adversarial input stays linear', () => {
  // Shapes that make a naive pattern backtrack: long runs of what a match starts with, never completed.
  const inputs = [
    `${'a'.repeat(200_000)}@`,
    `${'a.'.repeat(100_000)}@x`,
    '1'.repeat(200_000),
    `${'1 '.repeat(100_000)}x`,
    `+${'1 '.repeat(100_000)}`,
    `${'DE89 '.repeat(50_000)}`,
    `${'sk-'.repeat(70_000)}`,
    `${'eyJ'.repeat(70_000)}.`,
    `-----BEGIN PRIVATE KEY-----${'-----BEGIN RSA PRIVATE KEY-----'.repeat(5000)}`,
  ];
  it('every detector finishes on 200 KB of near-matches', () => {
    for (const text of inputs) for (const detector of ALL) findings(detector, text);
  });
});

describe('checksums', () => {
  it('Luhn, mod 97 and Verhoeff on known values', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    // DE89 3704 0044 0532 0130 00, its first four characters moved to the end (letters count 10–35).
    expect(mod97('370400440532013000DE89')).toBe(1);
    expect(mod97('370400440532013001DE89')).not.toBe(1);
    expect(verhoeffValid('2363')).toBe(true);
    expect(verhoeffValid('2364')).toBe(false);
  });

  it('detector selection: names, groups, everything by default, unknown names refused', () => {
    expect(selectDetectors(PII_CATALOGUE, ['email', 'national_id']).map((d) => d.name)).toEqual(['email', 'es_nif', 'es_nie', 'it_codice_fiscale', 'fi_hetu', 'se_personnummer', 'pl_pesel', 'in_aadhaar', 'ca_sin', 'uk_nhs', 'br_cpf', 'nl_bsn']);
    expect(selectDetectors(SECRET_CATALOGUE, []).length).toBe(SECRET_CATALOGUE.size);
    expect(() => selectDetectors(PII_CATALOGUE, ['openai_key'])).toThrow(/unknown detector/);
  });
});
