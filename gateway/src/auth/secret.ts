/**
 * A secret from the config file, kept out of every serialisation: JSON and util.inspect show
 * `[redacted]`, so a config that is logged or dumped never carries it. `reveal()` gives the text to the
 * one place that needs it.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  reveal(): string {
    return this.#text;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
