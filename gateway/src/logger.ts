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

/** An error as a log line shows it: pino's serialisation, scrubbed of secrets (and of `extra`, a client's key). */
export function loggableError(error: unknown, scrubber: SecretScrubber, extra?: string): unknown {
  return scrubber.value(error instanceof Error ? stdSerializers.err(error) : error, extra);
}

/**
 * stdout written asynchronously: a log line per request must not cost a blocking write syscall on the
 * hot path. Lines written while a write is in flight are coalesced; main.ts flushes before exiting.
 */
export function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}
