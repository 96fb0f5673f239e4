/**
 * The JSON body parser: Fastify's own (secure-json-parse, which strips prototype-poisoning keys) behind a
 * nesting-depth check that runs on the raw text first, so a deeply nested body is refused before any
 * recursion happens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

/** True when brackets nest deeper than `max` (brackets inside strings do not count). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

type ParserDone = (error: Error | null, body?: unknown) => void;

export function installJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error') as (request: FastifyRequest, body: string, done: ParserDone) => void;
  const guarded = (request: FastifyRequest, body: string | Buffer, done: ParserDone): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    // An empty body (a DELETE sent with a JSON content type) is no body; routes that need one say so.
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    if (nestedDeeperThan(text, maxDepth)) {
      done(new GatewayError('invalid_request', `request body nests deeper than ${maxDepth} levels`), undefined);
      return;
    }
    parse(request, text, done);
  };
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // Clients (curl without -H, some SDKs) do not always send application/json: every body is JSON here.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, guarded);
  app.addContentTypeParser('*', { parseAs: 'string' }, guarded);
}
