/**
 * A small OTLP/HTTP trace receiver, the collector side of an export: it accepts POSTs on any path and
 * decodes ExportTraceServiceRequest bodies in both encodings the spec defines — protobuf
 * (`application/x-protobuf`, the default) and JSON — into one plain shape the tests assert on. The
 * protobuf decoder reads the wire format directly, field numbers from opentelemetry-proto's
 * trace/v1/trace.proto, common/v1/common.proto and resource/v1/resource.proto.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface ReceivedExport {
  path: string;
  headers: IncomingHttpHeaders;
  resource: Record<string, unknown>;
  spans: ReceivedSpan[];
}

export interface OtlpReceiver {
  url: string;
  exports: ReceivedExport[];
  spans(): ReceivedSpan[];
  /** Resolves once `predicate` holds for what was received (checked on every export). */
  until(predicate: (receiver: OtlpReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const waiters = new Set<() => void>();
  const receiver: OtlpReceiver = {
    url: '',
    exports: [],
    spans: () => receiver.exports.flatMap((e) => e.spans),
    until(predicate, timeoutMs = 15_000) {
      if (predicate(receiver)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`OTLP receiver: condition not met in ${timeoutMs} ms; got ${JSON.stringify(receiver.exports.map((e) => e.spans.map((s) => s.name)))}`));
        }, timeoutMs);
        const check = (): void => {
          if (!predicate(receiver)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const json = String(req.headers['content-type']).startsWith('application/json');
      const decoded = json ? fromJson(JSON.parse(body.toString('utf8'))) : fromProtobuf(body);
      receiver.exports.push(...decoded.map((d) => ({ path: req.url ?? '', headers: req.headers, ...d })));
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
      for (const check of [...waiters]) check();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

type Decoded = Omit<ReceivedExport, 'path' | 'headers'>;

// --- OTLP/JSON ------------------------------------------------------------------------------------

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
type JsonKeyValue = { key: string; value: JsonAnyValue };

function jsonValue(value: JsonAnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

function fromJson(request: { resourceSpans?: any[] }): Decoded[] {
  return (request.resourceSpans ?? []).map((rs) => ({
    resource: jsonAttributes(rs.resource?.attributes),
    spans: (rs.scopeSpans ?? []).flatMap((ss: { spans?: any[] }) =>
      (ss.spans ?? []).map((span) => ({
        name: span.name,
        kind: span.kind,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        attributes: jsonAttributes(span.attributes),
        statusCode: span.status?.code ?? 0,
      })),
    ),
  }));
}

// --- OTLP/protobuf --------------------------------------------------------------------------------

/** A field of a protobuf message: varints and fixed64 as bigint, length-delimited as bytes. */
type Field = { number: number; value: bigint | Buffer };

function readFields(buffer: Buffer): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buffer[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const number = key >>> 3;
    switch (key & 7) {
      case 0:
        fields.push({ number, value: varint() });
        break;
      case 1:
        fields.push({ number, value: buffer.readBigUInt64LE(offset) });
        offset += 8;
        break;
      case 2: {
        const length = Number(varint());
        fields.push({ number, value: buffer.subarray(offset, offset + length) });
        offset += length;
        break;
      }
      case 5:
        fields.push({ number, value: BigInt(buffer.readUInt32LE(offset)) });
        offset += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${key & 7}`);
    }
  }
  return fields;
}

const bytesOf = (fields: Field[], number: number): Buffer[] => fields.filter((f) => f.number === number).map((f) => f.value as Buffer);
const first = (fields: Field[], number: number): Field['value'] | undefined => fields.find((f) => f.number === number)?.value;

function protoValue(buffer: Buffer): unknown {
  const [field] = readFields(buffer);
  if (!field) return undefined;
  switch (field.number) {
    case 1: return (field.value as Buffer).toString('utf8'); // string_value
    case 2: return field.value === 1n; // bool_value
    case 3: return Number(BigInt.asIntN(64, field.value as bigint)); // int_value
    case 4: { // double_value
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64LE(field.value as bigint);
      return bytes.readDoubleLE(0);
    }
    case 5: return bytesOf(readFields(field.value as Buffer), 1).map(protoValue); // array_value
    default: return undefined;
  }
}

function protoAttributes(buffers: Buffer[]): Record<string, unknown> {
  return Object.fromEntries(
    buffers.map((kv) => {
      const fields = readFields(kv);
      const value = bytesOf(fields, 2)[0];
      return [(first(fields, 1) as Buffer).toString('utf8'), value ? protoValue(value) : undefined];
    }),
  );
}

function fromProtobuf(body: Buffer): Decoded[] {
  // ExportTraceServiceRequest.resource_spans = 1
  return bytesOf(readFields(body), 1).map((resourceSpans) => {
    const rs = readFields(resourceSpans);
    const resource = bytesOf(rs, 1)[0]; // ResourceSpans.resource = 1; Resource.attributes = 1
    return {
      resource: resource ? protoAttributes(bytesOf(readFields(resource), 1)) : {},
      // ResourceSpans.scope_spans = 2; ScopeSpans.spans = 2
      spans: bytesOf(rs, 2).flatMap((scopeSpans) =>
        bytesOf(readFields(scopeSpans), 2).map((spanBytes) => {
          const span = readFields(spanBytes);
          const status = bytesOf(span, 15)[0]; // Span.status = 15; Status.code = 3
          return {
            traceId: ((first(span, 1) as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            spanId: ((first(span, 2) as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            parentSpanId: ((first(span, 4) as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            name: (first(span, 5) as Buffer).toString('utf8'),
            kind: Number(first(span, 6) ?? 0n),
            attributes: protoAttributes(bytesOf(span, 9)),
            statusCode: status ? Number(first(readFields(status), 3) ?? 0n) : 0,
          };
        }),
      ),
    };
  });
}
