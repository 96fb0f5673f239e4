/**
 * `POST /v1/responses`: OpenAI's Responses API as an inbound dialect. Providers that serve it natively
 * (OpenAI, Azure's v1 endpoint, OpenAI-compatible servers with `responses: native`) get the client's
 * body passed through; every other provider gets it translated to chat (responses-to-chat.ts) and its
 * answer translated back (responses-object.ts, responses-stream.ts). Conversation state is the
 * gateway's own (state/conversation-store.ts): `previous_response_id` works across every provider and
 * across fallbacks. Errors keep OpenAI's shape.
 */
import { GatewayError, type OpenAIErrorBody } from '../errors.js';
import type { JsonObject } from '../providers/types.js';
import { responseText } from './responses-object.js';
import { validateResponsesRequest } from './responses-request.js';
import { ResponsesExchange, storedInput, type ResponsesExchangeDeps } from './responses-exchange.js';
import type { InboundDialect } from './types.js';

export function createResponsesDialect(deps: ResponsesExchangeDeps): InboundDialect {
  return {
    name: 'responses',
    path: '/v1/responses',
    operation: 'chat',
    label: 'responses',
    native: 'responses',
    parse(body, { keyId }) {
      const request = validateResponsesRequest(body);
      const input = storedInput(request.input);
      const previousId = request.previous_response_id;
      if (!previousId) return new ResponsesExchange(request, [], input, keyId, deps);
      return deps.store.get(previousId, keyId).then((previous) => {
        if (!previous) {
          throw new GatewayError('previous_response_not_found', `Previous response with id '${previousId}' not found.`, { param: 'previous_response_id' });
        }
        const history = [...previous.input, ...((previous.response.output as JsonObject[] | undefined) ?? [])];
        return new ResponsesExchange(request, history, input, keyId, deps);
      });
    },
    errorBody: (body: OpenAIErrorBody) => body as unknown as JsonObject,
    answerText: responseText,
  };
}
