/**
 * Prompt-prefix hashing for prefix-affinity scheduling. A request's prompt — tools first, then each
 * message's role, name, content and tool calls, in order (the order a chat template lays them out in
 * the engine) — is read as one character stream cut into fixed blocks. Each block's key hashes the
 * whole prefix up to its end (a running hash, never reset), so two requests share block i's key only
 * if their prompts agree on every character up to it: the same property an engine's prefix cache
 * (vLLM's hashed KV blocks, SGLang's radix tree) has for tokens.
 *
 * Work is bounded: at most `maxBlocks` blocks are read, however long the prompt. A partial last block
 * gets no key (too short to be worth a KV-cache hit). Keys are 53-bit numbers from two 32-bit lanes
 * (FNV-1a and a multiplicative mix), so they are exact Map keys and collisions are negligible.
 */
import type { JsonObject } from '../providers/types.js';

const NO_BLOCKS: readonly number[] = Object.freeze([]);

/** Field separators, so "ab"+"c" and "a"+"bc" in two messages never read the same. */
const FIELD = 0x1e;
const RECORD = 0x1f;

class BlockHasher {
  private a = 0x811c9dc5;
  private b = 0x9e3779b9;
  private filled = 0;
  readonly keys: number[] = [];

  constructor(
    private readonly blockChars: number,
    private readonly maxBlocks: number,
  ) {}

  get full(): boolean {
    return this.keys.length >= this.maxBlocks;
  }

  char(code: number): void {
    this.a = Math.imul(this.a ^ code, 0x01000193);
    this.b = Math.imul(this.b ^ code, 0x5bd1e995) ^ (this.b >>> 15);
    if (++this.filled === this.blockChars) {
      this.filled = 0;
      this.keys.push((this.a >>> 0) * 0x200000 + ((this.b >>> 11) & 0x1fffff));
    }
  }

  text(value: string): void {
    for (let i = 0; i < value.length && !this.full; i++) this.char(value.charCodeAt(i));
  }

  /** A JSON value in key order (as JSON.stringify would lay it out), without building the string. */
  json(value: unknown, depth = 0): void {
    if (this.full || depth > 32) return;
    if (typeof value === 'string') {
      this.char(34);
      this.text(value);
      this.char(34);
    } else if (Array.isArray(value)) {
      this.char(91);
      for (const item of value) this.json(item, depth + 1);
      this.char(93);
    } else if (value !== null && typeof value === 'object') {
      this.char(123);
      for (const key in value as JsonObject) {
        this.text(key);
        this.char(58);
        this.json((value as JsonObject)[key], depth + 1);
      }
      this.char(125);
    } else {
      this.text(String(value));
    }
  }
}

/**
 * The prefix block keys of a chat or completions request (empty for anything else, or a prompt shorter
 * than one block).
 */
export function prefixBlockKeys(body: JsonObject, blockChars: number, maxBlocks: number): readonly number[] {
  const hasher = new BlockHasher(blockChars, maxBlocks);
  if (Array.isArray(body.messages)) {
    if (body.tools !== undefined) hasher.json(body.tools);
    for (const message of body.messages as unknown[]) {
      if (hasher.full) break;
      if (message === null || typeof message !== 'object') continue;
      const m = message as JsonObject;
      hasher.char(RECORD);
      if (typeof m.role === 'string') hasher.text(m.role);
      hasher.char(FIELD);
      if (typeof m.name === 'string') hasher.text(m.name);
      hasher.char(FIELD);
      if (typeof m.content === 'string') hasher.text(m.content);
      else if (m.content !== undefined && m.content !== null) hasher.json(m.content);
      if (m.tool_calls !== undefined) hasher.json(m.tool_calls);
    }
  } else if (typeof body.prompt === 'string') {
    hasher.text(body.prompt);
  } else {
    return NO_BLOCKS;
  }
  return hasher.keys;
}

/**
 * The prefix blocks a replica recently served, least recently used forgotten first: the gateway's
 * model of what that replica's KV cache holds (an approximation — the engine evicts on its own).
 */
export class PrefixIndex {
  private readonly blocks = new Map<number, true>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.blocks.size;
  }

  /** How many of `keys`, from the first, this replica holds. */
  matchLength(keys: readonly number[]): number {
    let n = 0;
    while (n < keys.length && this.blocks.has(keys[n] as number)) n++;
    return n;
  }

  /** Remembers that this replica now holds every block of `keys`. */
  record(keys: readonly number[]): void {
    for (const key of keys) {
      this.blocks.delete(key);
      this.blocks.set(key, true);
    }
    while (this.blocks.size > this.capacity) {
      const oldest = this.blocks.keys().next().value as number;
      this.blocks.delete(oldest);
    }
  }
}
