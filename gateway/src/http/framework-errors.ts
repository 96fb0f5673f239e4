/**
 * Errors Fastify and Node answer before any route runs — a URL that cannot be decoded, a request head
 * over the size limit, a malformed request line — get OpenAI-shaped bodies too.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { isDrainingUnreadBody } from './unread-body.js';

export function frameworkErrorHandler(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  const gatewayError = new GatewayError('invalid_request', `the request URL is not valid: ${error.message}`);
  reply.code(400).send(gatewayError.toBody());
}

export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  // The request was answered already and its unread body is being discarded: nothing more to say.
  if (isDrainingUnreadBody(socket)) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const gatewayError =
    status === 408
      ? new GatewayError('request_timeout', 'the request did not arrive in time')
      : new GatewayError('invalid_request', status === 431 ? 'request headers are too large' : 'malformed HTTP request', { status });
  const body = JSON.stringify(gatewayError.toBody());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
