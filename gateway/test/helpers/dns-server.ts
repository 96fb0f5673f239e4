/**
 * A tiny authoritative DNS server over UDP for discovery tests: answers A queries for the names it
 * holds (TTL 0), NXDOMAIN for any other name, and an empty answer for other record types. Enough of
 * RFC 1035 for node:dns's resolver (c-ares) to read; the answer set can change between queries, and
 * one answer can be held back (a slow server) while later queries are answered at once.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface DnsServer {
  port: number;
  /** Names (lower case, no trailing dot) → IPv4 addresses. */
  records: Map<string, string[]>;
  queries: number;
  /**
   * Holds back the answer to the next A query for `name`: made from the records as they are when the
   * query arrives, sent only on `release()` (queries after it are answered at once).
   */
  holdNext(name: string): HeldAnswer;
  close(): Promise<void>;
}

export interface HeldAnswer {
  /** Resolves when the held query has arrived. */
  arrived: Promise<void>;
  release(): void;
}

export async function startDnsServer(): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  let hold: { name: string; arrived: () => void; released: Promise<void> } | undefined;
  const server: DnsServer = {
    port: 0,
    records: new Map(),
    queries: 0,
    holdNext(name) {
      let arrived!: () => void;
      let release!: () => void;
      const answer: HeldAnswer = { arrived: new Promise<void>((resolve) => (arrived = resolve)), release: () => release() };
      hold = { name, arrived, released: new Promise<void>((resolve) => (release = resolve)) };
      return answer;
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (query, peer) => {
    server.queries++;
    const answer = respond(query, server.records);
    if (!answer) return;
    const send = (): void => socket.send(answer, peer.port, peer.address);
    const question = questionOf(query);
    if (hold && question?.type === 1 && question.name === hold.name) {
      const held = hold;
      hold = undefined;
      held.arrived();
      void held.released.then(send);
      return;
    }
    send();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.port = socket.address().port;
  return server;
}

/** The question: labels from offset 12, then QTYPE and QCLASS. */
function questionOf(query: Buffer): { name: string; type: number; end: number } | undefined {
  if (query.length < 12) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset] as number;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += length + 1;
  }
  const end = offset + 5;
  if (end > query.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(offset + 1), end };
}

function respond(query: Buffer, records: Map<string, string[]>): Buffer | undefined {
  const question = questionOf(query);
  if (!question) return undefined;
  const { name, type: qtype, end: questionEnd } = question;
  const addresses = records.get(name);
  const answers = addresses && qtype === 1 ? addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR=1, opcode 0, AA=1, RD copied, RA=1; RCODE 3 (NXDOMAIN) for unknown names.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (addresses ? 0 : 3), 2);
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(answers.length, 6);
  const parts = [header, query.subarray(12, questionEnd)];
  for (const address of answers) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // name: pointer to the question
    record.writeUInt16BE(1, 2); // A
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(0, 6); // TTL 0
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    parts.push(record);
  }
  return Buffer.concat(parts);
}
