/**
 * The official OpenAI Agents SDK (@openai/agents, which speaks the Responses API) running a tool-using
 * agent through the gateway: the agent's model calls a tool, the SDK runs it and sends the output back,
 * and the model answers — against a chat-only upstream (translated), OpenAI's native Responses API,
 * Anthropic and Gemini (translated, replaying their recorded tool calls). Every request the SDK made was
 * answered as OpenAI would answer it.
 */
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertResponse } from '../helpers/openai-schemas.js';
import { startResponsesGateway, type ResponsesGateway } from '../helpers/responses-client.js';

let env: ResponsesGateway;
/** Every JSON answer the SDK got from the gateway. */
const answers: unknown[] = [];

beforeAll(async () => {
  env = await startResponsesGateway();
  // The SDK's own trace export would call OpenAI's servers; nothing here may leave the machine.
  setTracingDisabled(true);
  setDefaultOpenAIClient(
    new OpenAI({
      baseURL: env.gateway.baseURL,
      apiKey: 'agent-client',
      maxRetries: 0,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        if (response.headers.get('content-type')?.startsWith('application/json')) answers.push(await response.clone().json());
        return response;
      },
    }),
  );
});
afterAll(async () => {
  await env?.close();
});

describe.each([
  { upstream: 'a chat-only OpenAI-compatible server', model: 'chat/agent-model' },
  { upstream: 'OpenAI (native)', model: 'oai/gpt-4o-mini' },
])('an agent with a tool, through $upstream', ({ model }) => {
  it.each([false, true])('runs the tool and answers (stream: %s)', async (streaming) => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `Sunny and 21 degrees in ${city}`;
      },
    });
    const agent = new Agent({ name: 'Weather agent', instructions: 'Use the tool to answer.', model, tools: [getWeather] });
    answers.length = 0;
    const result = streaming ? await run(agent, 'What is the weather in Paris?', { stream: true }) : await run(agent, 'What is the weather in Paris?');
    if (streaming) {
      for await (const _event of (result as Awaited<ReturnType<typeof run>> & AsyncIterable<unknown>)) {
        // drained: the run completes when its stream does
      }
      await (result as { completed: Promise<void> }).completed;
    }
    expect(calls).toHaveLength(1);
    expect(typeof result.finalOutput).toBe('string');
    expect(String(result.finalOutput).length).toBeGreaterThan(0);
    const items = result.newItems.map((item) => item.type);
    expect(items).toEqual(['tool_call_item', 'tool_call_output_item', 'message_output_item']);
    // Two model turns (the call, then the answer), both Responses API objects when not streamed.
    if (!streaming) expect(answers.map((answer) => (answer as { object?: string }).object)).toEqual(['response', 'response']);
    for (const answer of answers) assertResponse(answer);
  });
});

/**
 * Anthropic and Gemini replay the tool calls their vendors recorded (Anthropic: get_weather with a
 * location; Gemini: concatStringFunction, or customDivide when streamed), so the agent offers those.
 */
describe.each([
  { upstream: 'Anthropic (translated)', model: 'claude/claude-haiku-4-5-agent' },
  { upstream: 'Gemini (translated)', model: 'gem/gemini-2.0-flash-agent' },
])('an agent with recorded tools, through $upstream', ({ model }) => {
  it.each([false, true])('runs the tool the model called and answers (stream: %s)', async (streaming) => {
    const calls: string[] = [];
    const tools = [
      tool({ name: 'get_weather', description: 'Weather', parameters: z.object({ location: z.string(), units: z.string() }), execute: async () => (calls.push('get_weather'), 'Sunny') }),
      tool({ name: 'concatStringFunction', description: 'Concat', parameters: z.object({ firstString: z.string(), secondString: z.string() }), execute: async ({ firstString, secondString }) => (calls.push('concat'), firstString + secondString) }),
      tool({ name: 'customDivide', description: 'Divide', parameters: z.object({ numerator: z.number(), denominator: z.number() }), execute: async ({ numerator, denominator }) => (calls.push('divide'), String(numerator / denominator)) }),
    ];
    const agent = new Agent({ name: 'Tool agent', instructions: 'Use the tools.', model, tools });
    answers.length = 0;
    const result = streaming ? await run(agent, 'Go.', { stream: true }) : await run(agent, 'Go.');
    if (streaming) {
      for await (const _event of (result as Awaited<ReturnType<typeof run>> & AsyncIterable<unknown>)) {
        // drained
      }
      await (result as { completed: Promise<void> }).completed;
    }
    expect(calls).toHaveLength(1);
    expect(String(result.finalOutput).length).toBeGreaterThan(0);
    // Anthropic's recorded call comes with a sentence before it (its own message item).
    expect(result.newItems.map((item) => item.type).slice(-3)).toEqual(['tool_call_item', 'tool_call_output_item', 'message_output_item']);
    if (!streaming) expect(answers.map((answer) => (answer as { object?: string }).object)).toEqual(['response', 'response']);
    for (const answer of answers) assertResponse(answer);
  });
});
