/**
 * An operator's guardrail service on a real socket, for the `webhook` guardrail's tests. It decides by
 * what the texts it is sent contain:
 *
 *   ECHO     {"verdict": "deny", "reason": a long one quoting the authorization header it was sent and a key}
 *   PADDED   {"verdict": "deny", "reason": a key after 760 characters of line breaks}
 *   INVISIBLE {"verdict": "deny", "reason": a key with a zero-width space between its characters}
 *   DENY     {"verdict": "deny", "reason": "…"}
 *   FLAG     {"verdict": "flag", "reason": "…"}
 *   REDACT   {"verdict": "redact", "texts": [each text with REDACT replaced by [X]]}
 *   SLOW     answers after `slowMs` (past the gateway's timeout)
 *   GARBAGE  a 200 whose body is not JSON
 *   WRONG    a 200 with JSON that is not a verdict
 *   FAIL500  a 500
 *   RESET    destroys the connection without answering
 *   anything else: {"verdict": "pass"}
 *
 * It records every request it was sent (body and headers), and the texts of those whose caller closed
 * the connection before the answer (`abandoned`).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServer {
  url: string;
  received: { headers: IncomingHttpHeaders; body: { stage: string; texts: string[]; [key: string]: unknown } }[];
  abandoned: string[];
  close(): Promise<void>;
}

export async function startWebhookServer(slowMs = 2000): Promise<WebhookServer> {
  const received: WebhookServer['received'] = [];
  const abandoned: string[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const body = JSON.parse(raw) as WebhookServer['received'][number]['body'];
      received.push({ headers: req.headers, body });
      const all = body.texts.join('\n');
      res.once('close', () => {
        if (!res.writableFinished) abandoned.push(all);
      });
      const json = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      };
      if (all.includes('RESET')) req.socket.destroy();
      else if (all.includes('SLOW')) setTimeout(() => json(200, { verdict: 'pass' }), slowMs).unref();
      else if (all.includes('GARBAGE')) res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>');
      else if (all.includes('WRONG')) json(200, { ok: true });
      else if (all.includes('FAIL500')) json(500, { error: 'down for maintenance' });
      else if (all.includes('ECHO')) {
        const reason = `refused (called with ${String(req.headers.authorization)}; found ghp_${'Ab1'.repeat(12)})\n${'and more detail. '.repeat(40)}`;
        json(200, { verdict: 'deny', reason });
      } else if (all.includes('PADDED')) json(200, { verdict: 'deny', reason: `dump:${'\r\n'.repeat(380)}ghp_${'Zx9'.repeat(12)}` });
      else if (all.includes('INVISIBLE')) json(200, { verdict: 'deny', reason: `dump: ${[...`ghp_${'Zx9'.repeat(12)}`].join('\u200b')}` });
      else if (all.includes('DENY')) json(200, { verdict: 'deny', reason: 'policy 7 forbids this' });
      else if (all.includes('FLAG')) json(200, { verdict: 'flag', reason: 'looks odd' });
      else if (all.includes('REDACT')) json(200, { verdict: 'redact', texts: body.texts.map((text) => text.replaceAll('REDACT', '[X]')) });
      else json(200, { verdict: 'pass' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/check`,
    received,
    abandoned,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
