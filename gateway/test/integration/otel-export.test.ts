/**
 * OpenTelemetry as an operator configures it: the compiled gateway as a process, configured only by
 * the standard OTEL_* variables, exporting to a real OTLP/HTTP receiver over a socket (protobuf and
 * JSON decoded by the receiver). A module hook in the process reports every @opentelemetry module it
 * loads, so "tracing off loads nothing of the SDK" is observed, not assumed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';

const SERVER = 2;
const CLIENT = 3;
const SDK_MODULE = '[module] @opentelemetry/';

// Logs each module of the OpenTelemetry SDK the process resolves (import or require) to stderr. The API
// package (@opentelemetry/api, no-op until an SDK registers) is not the SDK: prom-client loads it anyway.
const hook = join(mkdtempSync(join(tmpdir(), 'gateway-otel-hook-')), 'report-otel-modules.mjs');
writeFileSync(
  hook,
  `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    if (result.url.includes('/@opentelemetry/') && !result.url.includes('/@opentelemetry/api/')) process.stderr.write('${SDK_MODULE}' + result.url.split('/@opentelemetry/')[1] + '\\n');
    return result;
  },
});
`,
);

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

async function withGateway(env: Record<string, string>, use: (gateway: GatewayProcess) => Promise<void>): Promise<string> {
  const gateway = await startGatewayProcess({ OTEL_BSP_SCHEDULE_DELAY: '50', ...env }, ['--import', hook]);
  try {
    await use(gateway);
  } finally {
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }
  return gateway.output();
}

async function chat(gateway: GatewayProcess, headers: Record<string, string> = {}, stream = false): Promise<Response> {
  const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'Hello!' }], stream }),
  });
  await response.text();
  return response;
}

const spansOfTrace = (traceId: string): ReceivedSpan[] => receiver.spans().filter((s) => s.traceId === traceId);

describe('OTLP export configured by OTEL_* variables', () => {
  it('OTLP/HTTP protobuf by default, with the headers, service name and resource attributes from the environment', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const output = await withGateway(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-token,x-tenant=acme',
        OTEL_SERVICE_NAME: 'gateway-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,service.namespace=llm',
      },
      async (gateway) => {
        expect((await chat(gateway, { traceparent: `00-${traceId}-b7ad6b7169203331-01` }, true)).status).toBe(200);
        await receiver.until(() => spansOfTrace(traceId).length === 2);
      },
    );
    const received = receiver.exports.find((e) => e.spans.some((s) => s.traceId === traceId))!;
    expect(received.path).toBe('/v1/traces');
    expect(received.headers['content-type']).toBe('application/x-protobuf');
    expect(received.headers.authorization).toBe('Bearer collector-token');
    expect(received.headers['x-tenant']).toBe('acme');
    expect(received.resource).toMatchObject({
      'service.name': 'gateway-under-test',
      'service.namespace': 'llm',
      'deployment.environment.name': 'ci',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': expect.any(String),
    });
    const server = spansOfTrace(traceId).find((s) => s.kind === SERVER)!;
    const client = spansOfTrace(traceId).find((s) => s.kind === CLIENT)!;
    expect(server).toMatchObject({ name: 'POST /v1/chat/completions', parentSpanId: 'b7ad6b7169203331' });
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 200, 'gen_ai.request.model': 'chat-default', 'gen_ai.request.stream': true });
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'mock', 'gen_ai.request.stream': true,
      'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.usage.input_tokens': expect.any(Number), 'gen_ai.usage.output_tokens': expect.any(Number),
    });
    // The module hook works: with tracing on, the SDK shows up in the report.
    expect(output).toContain(`${SDK_MODULE}sdk-node/`);
  });

  it('per-signal endpoint and protocol: OTLP/JSON to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; service.name defaults to llm-gateway', async () => {
    const traceId = '1af7651916cd43dd8448eb211c80319c';
    await withGateway(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/not-this-one',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      },
      async (gateway) => {
        expect((await chat(gateway, { traceparent: `00-${traceId}-b7ad6b7169203331-01` })).status).toBe(200);
        await receiver.until(() => spansOfTrace(traceId).length === 2);
      },
    );
    const received = receiver.exports.find((e) => e.spans.some((s) => s.traceId === traceId))!;
    expect(received.path).toBe('/custom/traces');
    expect(received.headers['content-type']).toBe('application/json');
    expect(received.resource['service.name']).toBe('llm-gateway');
    expect(spansOfTrace(traceId).map((s) => s.kind).sort()).toEqual([SERVER, CLIENT]);
  });

  it('the sampler from OTEL_TRACES_SAMPLER: a zero ratio keeps only the traces a client sampled', async () => {
    const unsampled = '2af7651916cd43dd8448eb211c80319c';
    const sampled = '3af7651916cd43dd8448eb211c80319c';
    const before = receiver.spans().length;
    await withGateway(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      async (gateway) => {
        await chat(gateway); // a new trace: the ratio decides (0: dropped)
        await chat(gateway, { traceparent: `00-${unsampled}-b7ad6b7169203331-00` });
        await chat(gateway, { traceparent: `00-${sampled}-b7ad6b7169203331-01` });
        await receiver.until(() => spansOfTrace(sampled).length === 2);
      },
    );
    // The process has exited after a graceful shutdown, which flushes the exporter: all kept spans are here.
    expect(new Set(receiver.spans().slice(before).map((s) => s.traceId))).toEqual(new Set([sampled]));
  });

  it('OTEL_SDK_DISABLED=true exports nothing and loads nothing of the SDK; neither does a gateway without OTEL_* settings', async () => {
    const before = receiver.exports.length;
    const disabled = await withGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' }, async (gateway) => {
      expect((await chat(gateway)).status).toBe(200);
    });
    const off = await withGateway({}, async (gateway) => {
      expect((await chat(gateway, { traceparent: '00-4af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).status).toBe(200);
    });
    // Both processes have exited after a graceful shutdown, which flushes any exporter.
    expect(receiver.exports.length).toBe(before);
    expect(disabled).not.toContain(SDK_MODULE);
    expect(off).not.toContain(SDK_MODULE);
  });
});
