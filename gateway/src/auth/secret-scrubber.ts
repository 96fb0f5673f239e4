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
 * A secret of 8 characters or more is removed wherever it appears. A shorter one is removed only where it
 * stands alone as a token (`short1` in "key short1." but not in "short12"), and one shorter than 6 is not
 * removed at all: such values are the placeholders of servers without auth (`none`, `EMPTY`, `unset`), and
 * removing them would mangle every error that uses the word. Both kinds are listed in `shortSecrets`, by
 * config path, so the gateway can say at start which secrets it cannot protect.
 *
 * Only error paths call it, so one precompiled alternation over a few dozen secrets is cheap enough.
 */
import { Secret } from './secret.js';

export const SCRUBBED = '[redacted]';

const AUTH_SCHEME = /^(?:Bearer|Basic|Token)\s+(\S+)$/i;

/** From this length a secret is removed wherever it appears; shorter ones would match inside ordinary words. */
const MIN_SECRET_LENGTH = 8;
/** From this length a shorter secret is removed where it stands alone; below it, it would match ordinary words. */
const MIN_TOKEN_LENGTH = 6;
/** What may stand next to a key without being part of it: anything but letters, digits, `_` and `-`. */
const TOKEN_START = '(?<![\\w-])';
const TOKEN_END = '(?![\\w-])';

/** A secret too short to be removed from text wherever it appears, named by where the config holds it. */
export interface ShortSecret {
  path: string;
  /** `token`: removed only where it stands alone; `never`: not removed at all. */
  scrubbed: 'token' | 'never';
}

/** Config fields (and header names) whose string values are secrets. `hash` fields are not. */
const SECRET_FIELD = /(api[-_]?key|password|secret|token|authorization|credentials?)$|^key$/i;

export class SecretScrubber {
  /** Removed wherever they appear. */
  readonly #secrets = new Set<string>();
  /** Removed where they stand alone. */
  readonly #tokens = new Set<string>();
  #pattern: RegExp | null | undefined;
  /** The config's secrets that are shorter than 8 characters (see the file comment). */
  readonly shortSecrets: readonly ShortSecret[];

  constructor(secrets: Iterable<string> = [], shortSecrets: readonly ShortSecret[] = []) {
    for (const secret of secrets) this.add(secret);
    this.shortSecrets = shortSecrets;
  }

  /** Secrets held in a validated config: walked once, so new secret fields are found by their names. */
  static fromConfig(config: unknown): SecretScrubber {
    const found: FoundSecret[] = [];
    collectSecrets(config, '', undefined, found);
    const short = new Map<string, ShortSecret>();
    for (const { path, value } of found) {
      if (value.length < MIN_SECRET_LENGTH && !short.has(path)) short.set(path, { path, scrubbed: value.length < MIN_TOKEN_LENGTH ? 'never' : 'token' });
    }
    return new SecretScrubber(
      found.map((secret) => secret.value),
      [...short.values()],
    );
  }

  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_TOKEN_LENGTH) return;
    for (const form of [secret, encodeURIComponent(secret)]) {
      const set = form.length < MIN_SECRET_LENGTH ? this.#tokens : this.#secrets;
      if (set.has(form)) continue;
      set.add(form);
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
      const anywhere = [...this.#secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
      const tokens = [...this.#tokens].sort((a, b) => b.length - a.length).map((token) => TOKEN_START + escapeRegExp(token) + TOKEN_END);
      const alternatives = [...anywhere, ...tokens];
      this.#pattern = alternatives.length === 0 ? null : new RegExp(alternatives.join('|'), 'g');
    }
    return this.#pattern;
  }
}

interface FoundSecret {
  /** Where the config holds it (`providers.vllm.apiKey`): what a warning may name, never the value. */
  path: string;
  value: string;
}

function collectSecrets(value: unknown, path: string, field: string | undefined, found: FoundSecret[]): void {
  const push = (secret: string): void => {
    if (secret) found.push({ path, value: secret });
  };
  if (value instanceof Secret) {
    push(value.reveal());
  } else if (typeof value === 'string') {
    if (field !== undefined && SECRET_FIELD.test(field)) {
      push(value);
      // An upstream may echo the credential of `Authorization: Bearer <token>` without its scheme.
      const credential = AUTH_SCHEME.exec(value)?.[1];
      if (credential) push(credential);
    }
    const password = urlPassword(value);
    if (password) push(password);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => collectSecrets(item, `${path}[${index}]`, undefined, found));
  } else if (value !== null && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) collectSecrets(child, path ? `${path}.${name}` : name, name, found);
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
