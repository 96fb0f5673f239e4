/**
 * pino options shared by the app: JSON lines, with every place a secret can hide redacted.
 */
import pino, { stdSerializers, type DestinationStream, type LoggerOptions } from 'pino';
import type { SecretScrubber } from './auth/secret-scrubber.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  '*.apiKey',
  '*.*.apiKey',
  'apiKey',
];

/**
 * Errors are where foreign text gets into log lines (an upstream's error body, a driver's message with
 * a URL): every logged `err` goes through the secret scrubber.
 */
export function createLoggerOptions(level: string, scrubber: SecretScrubber): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: (error: unknown) => loggableError(error, scrubber) },
  };
}

/** Whether a logger at `level` writes lines of level `line`. */
export function logsAt(level: string, line: 'info'): boolean {
  return (pino.levels.values[level] ?? Infinity) <= pino.levels.values[line]!;
}

/** An error as a log line shows it: pino's serialisation, scrubbed of secrets (and of `extra`, a client's key). */
export function loggableError(error: unknown, scrubber: SecretScrubber, extra?: string): unknown {
  return scrubber.value(error instanceof Error ? stdSerializers.err(error) : error, extra);
}

/**
 * Where the gateway's log lines go. Normally stdout, written asynchronously (lines written while a write
 * is in flight are coalesced; main.ts flushes before exiting). While the trace worker writes request
 * lines to stdout, the gateway's own lines are handed to it instead, so a single thread writes stdout
 * and two writers can never tear each other's lines.
 */
export class LogOutput implements DestinationStream {
  private through: ((line: string) => void) | undefined;

  constructor(readonly direct: DestinationStream = pino.destination({ dest: 1, sync: false })) {}

  write(line: string): void {
    if (this.through) this.through(line);
    else this.direct.write(line);
  }

  /** Lines go through `through` from now on, or straight out again when it is undefined. */
  route(through: ((line: string) => void) | undefined): void {
    this.through = through;
  }

  flush(callback: () => void): void {
    const flushable = this.direct as { flush?(cb: (error?: Error) => void): void };
    if (flushable.flush) flushable.flush(() => callback());
    else callback();
  }
}
