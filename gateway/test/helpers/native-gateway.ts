/**
 * A gateway in front of the native mock servers (Anthropic, Gemini, Azure), and the official OpenAI SDK
 * pointed at it: what the provider-adapter tests share. Every answer the SDK returns is checked against
 * OpenAI's own schemas before a test looks at it.
 */
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { startGateway, type RunningGateway } from './gateway.js';
import { ANTHROPIC_KEY, AZURE_KEY, GEMINI_KEY, startNativeUpstreams, type NativeRequest, type NativeUpstreams } from './native-upstreams.js';
import { assertChatCompletion, assertChatCompletionChunk } from './openai-schemas.js';

export interface NativeGateway {
  native: NativeUpstreams;
  gateway: RunningGateway;
  client: OpenAI;
  /** The last request a native mock server received. */
  lastRequest(): NativeRequest;
  /** A JSON completion, validated as a `chat.completion`. */
  complete(params: ChatCompletionCreateParamsNonStreaming): Promise<ChatCompletion>;
  /** A stream read to its end, every chunk validated as a `chat.completion.chunk`. */
  stream(params: Omit<ChatCompletionCreateParamsStreaming, 'stream'>): Promise<StreamResult>;
  close(): Promise<void>;
}

export interface StreamedToolCall {
  id: string | undefined;
  name: string | undefined;
  arguments: string;
  /** Every field the deltas of this call carried besides index/id/type/function, merged. */
  extra: Record<string, unknown>;
}

export interface StreamResult {
  chunks: ChatCompletionChunk[];
  text: string;
  /** By OpenAI tool-call index. */
  toolCalls: StreamedToolCall[];
  finish: string | null | undefined;
  usage: OpenAI.Completions.CompletionUsage | undefined;
}

export async function startNativeGateway(document: Record<string, unknown> = {}): Promise<NativeGateway> {
  const native = await startNativeUpstreams();
  const gateway = await startGateway({
    routing: { retry: { maxAttempts: 1 } },
    ...document,
    providers: {
      claude: { type: 'anthropic', apiKey: ANTHROPIC_KEY, baseUrl: native.url, defaultMaxTokens: 777 },
      gem: { type: 'gemini', apiKey: GEMINI_KEY, baseUrl: native.url },
      az: { type: 'azure', apiKey: AZURE_KEY, baseUrl: native.url, apiVersion: '2024-10-21', deployments: { 'gpt-4o': 'prod-gpt4o' } },
    },
  });
  const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client', maxRetries: 0 });
  return {
    native,
    gateway,
    client,
    lastRequest: () => native.requests.at(-1)!,
    async complete(params) {
      const completion = await client.chat.completions.create(params);
      assertChatCompletion(completion);
      return completion;
    },
    async stream(params) {
      return collect(await client.chat.completions.create({ ...params, stream: true }));
    },
    async close() {
      await gateway.close();
      await native.close();
    },
  };
}

export async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<StreamResult> {
  const result: StreamResult = { chunks: [], text: '', toolCalls: [], finish: undefined, usage: undefined };
  for await (const chunk of stream) {
    assertChatCompletionChunk(chunk);
    result.chunks.push(chunk);
    const choice = chunk.choices[0];
    result.text += choice?.delta.content ?? '';
    for (const { index, id, type: _type, function: fn, ...extra } of choice?.delta.tool_calls ?? []) {
      const call = (result.toolCalls[index] ??= { id: undefined, name: undefined, arguments: '', extra: {} });
      call.id ??= id;
      call.name ??= fn?.name;
      call.arguments += fn?.arguments ?? '';
      Object.assign(call.extra, extra);
    }
    if (choice?.finish_reason) result.finish = choice.finish_reason;
    if (chunk.usage) result.usage = chunk.usage;
  }
  return result;
}
