/**
 * Credentials: API keys and tokens of common providers, recognised by the prefixes and lengths their
 * issuers use (the same shapes secret scanners such as GitHub's and gitleaks look for), JSON Web Tokens,
 * and PEM private keys — the whole block, so redaction removes the key material and not just its header.
 */
import { patternDetector, type Detector } from './detector.js';

/** A token pattern between token boundaries (no word character, `-` or `_` either side). */
/** `holdback`: the shortest text that already matches (a longer token keeps matching as it grows). */
function token(name: string, body: string, holdback: number, prefilter: string): Detector {
  return patternDetector(name, {
    pattern: new RegExp(`(?<![A-Za-z0-9_-])(?:${body})(?![A-Za-z0-9_-])`, 'g'),
    holdback,
    prefilter: (text) => text.includes(prefilter),
  });
}

/** OpenAI (`sk-…`, `sk-proj-…`, `sk-svcacct-…`) and the many providers that copied the `sk-` form. */
export const openaiKey = token('openai_key', 'sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,256}', 32, 'sk-');
export const anthropicKey = token('anthropic_key', 'sk-ant-(?:api|admin|oat)\\d{2}-[A-Za-z0-9_-]{32,256}', 48, 'sk-ant-');
export const awsAccessKey = token('aws_access_key', '(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}', 21, 'A');
export const githubToken = token('github_token', 'gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244}', 40, 'g');
export const gitlabToken = token('gitlab_token', 'glpat-[A-Za-z0-9_-]{20,64}', 32, 'glpat-');
export const slackToken = token('slack_token', 'xox[abposr]-(?:\\d+-)?[A-Za-z0-9-]{10,250}|https://hooks\\.slack\\.com/services/T[A-Z0-9]{6,16}/B[A-Z0-9]{6,16}/[A-Za-z0-9]{16,40}', 96, 'x');
export const stripeKey = token('stripe_key', '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,247}', 32, '_');
export const googleApiKey = token('google_api_key', 'AIza[A-Za-z0-9_-]{35}', 40, 'AIza');
export const huggingfaceToken = token('huggingface_token', 'hf_[A-Za-z]{34}', 38, 'hf_');
export const npmToken = token('npm_token', 'npm_[A-Za-z0-9]{36}', 41, 'npm_');
export const sendgridKey = token('sendgrid_key', 'SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}', 70, 'SG.');
export const groqKey = token('groq_key', 'gsk_[A-Za-z0-9]{52}', 57, 'gsk_');
/** header.payload.signature, each base64url; the header and payload are JSON objects, so both start `eyJ`. */
export const jwt = token('jwt', 'eyJ[A-Za-z0-9_-]{8,4096}\\.eyJ[A-Za-z0-9_-]{8,8192}\\.[A-Za-z0-9_-]{8,1024}', 40, 'eyJ');

const PEM_BEGIN = /-----BEGIN ((?:[A-Z0-9]{1,16} ){0,3})PRIVATE KEY(?: BLOCK)?-----/g;
/** Longer than any RSA-16384 key in PEM. */
const PEM_MAX = 16_384;

/**
 * A PEM private key from its BEGIN line to its END line. Without an END line (cut off, or still
 * streaming) the match runs to the end of the text: everything after a BEGIN line is key material.
 */
export const privateKey: Detector = {
  name: 'private_key',
  // The BEGIN line is enough: from there the match runs to the END line or to the end of what arrived.
  holdback: 64,
  patterns: [PEM_BEGIN],
  scan(text, found) {
    if (!text.includes('PRIVATE KEY')) return;
    PEM_BEGIN.lastIndex = 0;
    let match: RegExpExecArray | null;
    while ((match = PEM_BEGIN.exec(text)) !== null) {
      const start = match.index;
      const endLine = `-----END ${match[1]}PRIVATE KEY`;
      const at = text.indexOf(endLine, PEM_BEGIN.lastIndex);
      let end = text.length;
      if (at >= 0 && at - start <= PEM_MAX) {
        const close = text.indexOf('-----', at + endLine.length);
        end = close >= 0 ? close + 5 : text.length;
      }
      found(start, end);
      PEM_BEGIN.lastIndex = end;
    }
  },
};

export const SECRET_DETECTORS: readonly Detector[] = [
  openaiKey,
  anthropicKey,
  awsAccessKey,
  githubToken,
  gitlabToken,
  slackToken,
  stripeKey,
  googleApiKey,
  huggingfaceToken,
  npmToken,
  sendgridKey,
  groqKey,
  jwt,
  privateKey,
];
