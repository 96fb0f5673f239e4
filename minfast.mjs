import Fastify from 'fastify';
const app = Fastify({ logger: false });
const payload = { id: 'x', choices: [{ message: { content: 'The quick brown fox jumps over the lazy dog. '.repeat(4) } }] };
app.post('/v1/chat/completions', async (req) => payload);
await app.listen({ port: 9297, host: '127.0.0.1' });
