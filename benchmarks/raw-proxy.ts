/**
 * The floor for any Node.js proxy on this machine: node:http in, undici out, bytes piped back, no
 * parsing, no validation, no routing, no telemetry. Measured in the same run, it shows how much of the
 * gateway's overhead is the gateway and how much is two more loopback hops.
 *
 *   tsx benchmarks/raw-proxy.ts --port 9400 --upstream http://127.0.0.1:9100
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string', default: '9400' }, upstream: { type: 'string', default: 'http://127.0.0.1:9100' } } });
const pool = new Pool(values.upstream, { connections: 256 });

createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    pool
      .request({ path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(parts) })
      .then(async (upstream) => {
        res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'application/json') });
        for await (const chunk of upstream.body) res.write(chunk);
        res.end();
      })
      .catch(() => res.writeHead(502).end());
  });
}).listen(Number(values.port), '127.0.0.1');
