/**
 * Removes every secret the gateway holds from text it did not write itself — an upstream's error body,
 * a mid-stream error, a log line's error — before that text leaves the process. An upstream that echoes
 * the key it received (OpenAI's 401 says "Incorrect API key provided: sk-…") must not hand a provider key
 * to a client.
 *
 * Built once at boot from the config's secrets (provider keys, secret-named headers and fields, URL
 * passwords, plain gateway keys, the admin key, the session secret); keys created through the admin API
 * are added as they are made, and each call may add the requesting client's own key. Matching is exact
 * (plus the percent-encoded form): a key configured only as a hash cannot be found in text.
 *
 * Only error paths call it, so one precompiled alternation over a few dozen secrets is cheap enough.
 */
import { Secret } from './secret.js';

export const SCRUBBED = '[redacted]';

const AUTH_SCHEME = /^(?:Bearer|Basic|Token)\s+(\S+)$/i;

/** Shorter values would match ordinary words (`unset`, `none`); no real key is this short. */
const MIN_SECRET_LENGTH = 8;

/** Config fields (and header names) whose string values are secrets. `hash` fields are not. */
const SECRET_FIELD = /(api[-_]?key|password|secret|token|authorization|credentials?)$|^key$/i;

export class SecretScrubber {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | null | undefined;

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Secrets held in a validated config: walked once, so new secret fields are found by their names. */
  static fromConfig(config: unknown): SecretScrubber {
    const found: string[] = [];
    collectSecrets(config, undefined, found);
    return new SecretScrubber(found);
  }

  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    for (const form of [secret, encodeURIComponent(secret)]) {
      if (this.#secrets.has(form)) continue;
      this.#secrets.add(form);
      this.#pattern = undefined;
    }
  }

  /** `text` with every known secret — and `extra`, such as the requesting client's key — replaced. */
  text(text: string, extra?: string): string {
    let out = text;
    if (extra && extra.length >= MIN_SECRET_LENGTH && out.includes(extra)) out = out.split(extra).join(SCRUBBED);
    const pattern = this.compiled();
    return pattern ? out.replace(pattern, SCRUBBED) : out;
  }

  /** A copy of `value` with every string in it (property names included) scrubbed. */
  value<T>(value: T, extra?: string): T {
    return this.scrubDeep(value, extra, 0) as T;
  }

  private scrubDeep(value: unknown, extra: string | undefined, depth: number): unknown {
    if (typeof value === 'string') return this.text(value, extra);
    if (value === null || typeof value !== 'object') return value;
    // Error bodies are small and shallow; anything nested deeper than this is not worth keeping.
    if (depth > 32) return null;
    if (Array.isArray(value)) return value.map((item) => this.scrubDeep(item, extra, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(value)) out[this.text(name, extra)] = this.scrubDeep(child, extra, depth + 1);
    return out;
  }

  private compiled(): RegExp | null {
    if (this.#pattern === undefined) {
      // Longest first, so a secret that contains another is replaced whole.
      const sorted = [...this.#secrets].sort((a, b) => b.length - a.length);
      this.#pattern = sorted.length === 0 ? null : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    }
    return this.#pattern;
  }
}

function collectSecrets(value: unknown, field: string | undefined, found: string[]): void {
  if (value instanceof Secret) {
    found.push(value.reveal());
  } else if (typeof value === 'string') {
    if (field !== undefined && SECRET_FIELD.test(field)) {
      found.push(value);
      // An upstream may echo the credential of `Authorization: Bearer <token>` without its scheme.
      const credential = AUTH_SCHEME.exec(value)?.[1];
      if (credential) found.push(credential);
    }
    const password = urlPassword(value);
    if (password) found.push(password);
  } else if (Array.isArray(value)) {
    for (const item of value) collectSecrets(item, undefined, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) collectSecrets(child, name, found);
  }
}

/** The password of a URL with credentials (`redis://:pw@host`, `http://user:pw@clickhouse:8123`). */
function urlPassword(text: string): string | undefined {
  if (!text.includes('://') || !text.includes('@')) return undefined;
  try {
    const password = new URL(text).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
