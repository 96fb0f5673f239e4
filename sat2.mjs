import autocannon from 'autocannon';
const [port, model] = process.argv.slice(2);
const body = JSON.stringify({ model, messages: [{ role: 'system', content: 'You are a helpful assistant that answers concisely and accurately. '.repeat(4) }, { role: 'user', content: 'Summarise the following paragraph in one sentence. '.repeat(12) }], temperature: 0.2, max_tokens: 128 });
await autocannon({ url: `http://127.0.0.1:${port}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 32, duration: 3 });
const r = await autocannon({ url: `http://127.0.0.1:${port}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 32, duration: 8 });
console.log(port, model, r.requests.average, r.latency.p50, r.latency.p99, r.non2xx);
