/**
 * Output checks on a stream as it passes (`stream: incremental`). Each choice's text is held back by a
 * few characters — the longest any of the route's text guardrails needs to recognise a match — so a
 * match is found before any of it reaches the client: a match still growing at the end of what arrived
 * is held whole. What is released is rewritten into the chunk that carried it:
 *
 * - redact: the match is replaced in the released text;
 * - flag: counted, the text passes unchanged;
 * - deny: the stream ends there with the deny as its last event (no `[DONE]`); the matched text was
 *   never sent, the text before it was.
 *
 * A choice's reasoning (`reasoning_content`, `reasoning`) is checked the same way as a text of its own,
 * and what is held of it is released whole once the answer's text, a tool call or the end follows —
 * reasoning comes before the answer, and every dialect renders it so. Each tool call's arguments are a
 * text of their own too, held and released in the call's own deltas (the delta that names the call goes
 * out at once, with the arguments that may go); what is still held when the choice finishes goes out in
 * its finishing chunk.
 *
 * Cost: the client sees each choice's text up to `holdback` + 32 characters later than it arrives (all of
 * it at the end), and each release scans the held text once. The holdback is counted in characters of
 * the folded text the checks read (folded-text.ts), so text padded with invisible characters is held
 * longer, its padding with it.
 */
import type { JsonObject } from '../providers/types.js';
import type { TextGuardrail } from './guardrail.js';
import { foldText } from './folded-text.js';
import { mergeOverlaps, summarise, type Span } from './redaction.js';
import { deniedError, record, type PolicyRun } from './run-guardrails.js';
import { chunkTextHolder, REASONING_KEYS, type ReasoningKey } from './text-segments.js';

/**
 * Released text kept before the held text, so look-behinds and naming words still see their context.
 * Like the holdback, counted in characters of the folded text (folded-text.ts): what the checks read. A
 * secret padded with invisible characters is as long, to them, as the plain one.
 */
const CONTEXT_CHARS = 64;
/**
 * Text is released (and scanned) in batches of at least this many characters past the holdback: a scan
 * costs about the same for a few characters as for a batch (measured in benchmarks/guardrail-cost.ts).
 */
const RELEASE_BATCH = 32;
interface ChoiceState {
  /** The choice it belongs to, and which of its texts it is: the answer, a reasoning field, or a tool call's arguments (by the call's index). */
  readonly index: number;
  readonly key: 'answer' | ReasoningKey | number;
  /** Arrived, not yet released. */
  pending: string;
  /** The end of what was released. */
  context: string;
  /** How long `pending` must be before it is scanned again. */
  scanAt: number;
  /** The choice has finished (its finish_reason came): everything was released. */
  done: boolean;
}

interface Found extends Span {
  guardrail: number;
  /** The match cannot grow any more: text that does not continue it follows, or the choice ended. */
  complete: boolean;
}

class IncrementalGuard {
  /** By `<choice index>/<key>`. */
  private readonly states = new Map<string, ChoiceState>();
  private readonly counts: Map<string, number>[];
  private readonly holdback: number;
  private last: JsonObject | undefined;
  private finalized = false;

  constructor(
    private readonly guardrails: readonly TextGuardrail[],
    private readonly run: PolicyRun,
  ) {
    this.counts = guardrails.map(() => new Map());
    this.holdback = Math.max(0, ...guardrails.map((g) => g.holdback));
  }

  /** Rewrites the chunk's texts to what may be sent now. Throws the deny. */
  push(chunk: JsonObject): void {
    this.last = chunk;
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices as JsonObject[]) {
      if (choice === null || typeof choice !== 'object') continue;
      const where = chunkTextHolder(choice);
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const final = choice.finish_reason !== null && choice.finish_reason !== undefined;
      const incoming = where && typeof where.holder[where.key] === 'string' ? (where.holder[where.key] as string) : undefined;
      const delta = choice.delta !== null && typeof choice.delta === 'object' ? (choice.delta as JsonObject) : undefined;
      // The answer (text or a tool call) has begun, or the choice ends: its reasoning is complete.
      const reasoningEnds = final || (incoming !== undefined && incoming !== '') || delta?.tool_calls !== undefined;
      for (const key of REASONING_KEYS) if (delta) this.pushText(index, key, delta, key, reasoningEnds);
      this.pushText(index, 'answer', where?.holder, where?.key, final, choice);
      this.pushCalls(index, choice, delta, final);
    }
  }

  /** A choice's tool-call deltas: each call's arguments held and released as a text of its own. */
  private pushCalls(index: number, choice: JsonObject, delta: JsonObject | undefined, final: boolean): void {
    const calls = delta && Array.isArray(delta.tool_calls) ? (delta.tool_calls as JsonObject[]) : [];
    const seen = new Set<number>();
    for (const call of calls) {
      if (call === null || typeof call !== 'object') continue;
      const at = typeof call.index === 'number' ? call.index : 0;
      seen.add(at);
      // A finishing delta without arguments still carries what its call holds.
      if ((call.function === null || typeof call.function !== 'object') && final && this.states.has(`${index}/${at}`)) call.function = {};
      const fn = call.function !== null && typeof call.function === 'object' ? (call.function as JsonObject) : undefined;
      this.pushText(index, at, fn, 'arguments', final);
    }
    if (!final) return;
    // Calls this finishing chunk does not carry: what they still hold goes out in it.
    for (const state of this.states.values()) {
      if (state.index !== index || typeof state.key !== 'number' || seen.has(state.key) || state.done) continue;
      const released = this.release(state, true);
      state.done = true;
      if (released === '') continue;
      const target = delta ?? (choice.delta = {});
      const list = Array.isArray(target.tool_calls) ? (target.tool_calls as JsonObject[]) : [];
      list.push({ index: state.key, function: { arguments: released } });
      target.tool_calls = list;
    }
  }

  /** One text of a choice: holds what arrived, writes what may go out now into the chunk. */
  private pushText(index: number, key: ChoiceState['key'], holder: JsonObject | undefined, field: string | undefined, final: boolean, choice?: JsonObject): void {
    const incoming = holder && field && typeof holder[field] === 'string' ? (holder[field] as string) : undefined;
    const id = `${index}/${key}`;
    let state = this.states.get(id);
    if (incoming === undefined && !(final && state?.pending)) {
      if (final && state) state.done = true;
      return;
    }
    if (!state) {
      state = { index, key, pending: '', context: '', scanAt: this.holdback + RELEASE_BATCH, done: false };
      this.states.set(id, state);
    }
    state.pending += incoming ?? '';
    const released = this.release(state, final);
    if (holder && field && (incoming !== undefined || released !== '')) holder[field] = released;
    else if (!holder && choice && released !== '') choice.delta = { content: released };
    if (final) state.done = true;
  }

  /** After the upstream ended: what is still held, as one more chunk (undefined when nothing is). Throws the deny. */
  finish(): JsonObject | undefined {
    const extra = new Map<number, JsonObject>();
    const completion = this.last?.object === 'text_completion';
    // Reasoning before the answer, the answer before its tool calls, as they streamed.
    const rank = (key: ChoiceState['key']): number => (typeof key === 'number' ? 2 : key === 'answer' ? 1 : 0);
    const held = [...this.states.values()].sort((a, b) => rank(a.key) - rank(b.key));
    for (const state of held) {
      if (state.done || state.pending === '') continue;
      const text = this.release(state, true);
      state.done = true;
      const { index, key } = state;
      if (completion) {
        extra.set(index, { index, text, logprobs: null, finish_reason: null });
        continue;
      }
      const choice = extra.get(index) ?? { index, delta: {}, finish_reason: null };
      const delta = choice.delta as JsonObject;
      if (typeof key === 'number') delta.tool_calls = [...((delta.tool_calls as JsonObject[] | undefined) ?? []), { index: key, function: { arguments: text } }];
      else delta[key === 'answer' ? 'content' : key] = text;
      extra.set(index, choice);
    }
    if (extra.size === 0) return undefined;
    const { choices: _choices, usage: _usage, ...base } = this.last ?? {};
    return { ...base, choices: [...extra.values()] };
  }

  /** Records each guardrail's verdict, once (at the end, at the deny, or when the client left). */
  finalize(denied?: number): void {
    if (this.finalized) return;
    this.finalized = true;
    this.guardrails.forEach((guardrail, i) => {
      const counts = this.counts[i] as Map<string, number>;
      const verdict = i === denied ? 'deny' : counts.size === 0 ? 'pass' : guardrail.action;
      record(this.run, guardrail, 'output', verdict, summarise(counts));
    });
  }

  /** Scans what is held, acts on complete matches, and returns the text that may go out now. */
  private release(state: ChoiceState, final: boolean): string {
    // Scanning costs the same for a few characters as for a batch: wait until a batch can be released.
    if (!final && state.pending.length < state.scanAt) return '';
    const text = state.context + state.pending;
    const offset = state.context.length;
    const folded = foldText(text);
    const found: Found[] = [];
    this.guardrails.forEach((guardrail, g) =>
      guardrail.scan(folded, (start, end, label) => {
        if (end > offset) found.push({ start: Math.max(start, offset), end, label, guardrail: g, complete: final || end < text.length });
      }),
    );
    for (const match of found) {
      if (match.complete && (this.guardrails[match.guardrail] as TextGuardrail).action === 'deny') this.deny(match);
    }
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    // Up to the holdback (the last `holdback` characters the checks read, and the original text they came
    // from, invisible characters included), but never into a match that may still grow; through a
    // complete one, and through any complete one overlapping that.
    let incomplete = Infinity;
    for (const match of found) if (!match.complete) incomplete = Math.min(incomplete, match.start);
    let safe = Math.min(final ? text.length : folded.originalStart(Math.max(0, folded.text.length - this.holdback)), incomplete);
    for (const match of found) if (match.complete && match.start < safe && match.end > safe && match.end <= incomplete) safe = match.end;
    safe = Math.max(safe, offset);

    const redacted: Found[] = [];
    for (const match of found) {
      if (!match.complete || match.start >= safe || match.end > safe) continue;
      const counts = this.counts[match.guardrail] as Map<string, number>;
      counts.set(match.label, (counts.get(match.label) ?? 0) + 1);
      if ((this.guardrails[match.guardrail] as TextGuardrail).action === 'redact') redacted.push(match);
    }
    let out = '';
    let at = offset;
    for (const span of mergeOverlaps(redacted)) {
      out += text.slice(at, span.start) + (this.guardrails[span.guardrail] as TextGuardrail).replacement(span.label);
      at = span.end;
    }
    out += text.slice(at, safe);
    state.pending = text.slice(safe);
    // Held text that could not go yet (a match still growing, or invisible characters that make the
    // holdback long) is scanned again once it has doubled, so a long one costs linear time, not quadratic.
    state.scanAt = Math.max(this.holdback + RELEASE_BATCH, 2 * state.pending.length - this.holdback);
    state.context = lastFolded(state.context + out, CONTEXT_CHARS);
    return out;
  }

  private deny(match: Found): never {
    const counts = this.counts[match.guardrail] as Map<string, number>;
    counts.set(match.label, (counts.get(match.label) ?? 0) + 1);
    this.finalize(match.guardrail);
    const guardrail = this.guardrails[match.guardrail] as TextGuardrail;
    throw deniedError(guardrail.name, 'output', summarise(counts), null, true);
  }
}

/** The end of `text` that folds to its last `count` characters (and the invisible ones among them). */
function lastFolded(text: string, count: number): string {
  // Folding the tail only, longer each time until it holds `count` folded characters: usually once.
  for (let tail = count; ; tail *= 2) {
    if (tail >= text.length) {
      const folded = foldText(text);
      return folded.text.length <= count ? text : text.slice(folded.originalStart(folded.text.length - count));
    }
    const folded = foldText(text.slice(-tail));
    if (folded.text.length >= count) return text.slice(text.length - tail + folded.originalStart(folded.text.length - count));
  }
}

/**
 * The stream with its text checked as it passes. A deny in the first chunk throws at once (nothing was
 * sent: the client gets an ordinary error reply); later, `next()` throws it and the upstream is closed.
 */
export function guardStream(
  guardrails: readonly TextGuardrail[],
  run: PolicyRun,
  first: JsonObject | undefined,
  rest: AsyncIterator<JsonObject>,
): { first: JsonObject | undefined; rest: AsyncIterator<JsonObject> } {
  const guard = new IncrementalGuard(guardrails, run);
  const stop = async (error: unknown): Promise<never> => {
    guard.finalize();
    await rest.return?.().catch(() => undefined);
    throw error;
  };
  if (first) {
    try {
      guard.push(first);
    } catch (error) {
      void stop(error).catch(() => undefined);
      throw error;
    }
  }
  let ended = false;
  return {
    first,
    rest: {
      async next() {
        if (ended) return { done: true, value: undefined };
        let next: IteratorResult<JsonObject>;
        try {
          next = await rest.next();
        } catch (error) {
          guard.finalize();
          throw error;
        }
        try {
          if (next.done) {
            ended = true;
            const held = guard.finish();
            guard.finalize();
            return held ? { done: false, value: held } : next;
          }
          guard.push(next.value);
          return next;
        } catch (error) {
          return stop(error);
        }
      },
      async return(value?: unknown) {
        guard.finalize();
        return (await rest.return?.(value)) ?? { done: true, value: undefined };
      },
    },
  };
}
