/**
 * pino options shared by the app: JSON lines, with every place a secret can hide redacted.
 */
import pino, { type DestinationStream, type LoggerOptions } from 'pino';

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

export function createLoggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
}

/**
 * stdout written asynchronously: a log line per request must not cost a blocking write syscall on the
 * hot path. Lines written while a write is in flight are coalesced; main.ts flushes before exiting.
 */
export function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}
