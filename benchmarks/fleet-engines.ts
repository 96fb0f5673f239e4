/**
 * Starts a simulated GPU fleet in one process for the fleet benchmark: one fake engine per port
 * (benchmarks/fake-engine.ts), each with its own speed. Prints "ready" once every engine listens.
 *   tsx benchmarks/fleet-engines.ts --ports 9501,9502 --speeds 1,0.5 --engine vllm --cache-blocks 600
 */
import { parseArgs } from 'node:util';
import { FakeEngine, type FakeEngineKind } from './fake-engine.js';

const { values } = parseArgs({
  options: {
    ports: { type: 'string' },
    speeds: { type: 'string' },
    engine: { type: 'string', default: 'vllm' },
    'cache-blocks': { type: 'string', default: '450' },
    batch: { type: 'string', default: '8' },
    'prefill-ms-per-token': { type: 'string', default: '0.05' },
    'decode-ms-per-token': { type: 'string', default: '4' },
    'output-tokens': { type: 'string', default: '16' },
  },
});

const ports = (values.ports ?? '').split(',').map(Number);
const speeds = (values.speeds ?? '').split(',').map(Number);
const engines = await Promise.all(
  ports.map((port, i) =>
    new FakeEngine({
      engine: values.engine as FakeEngineKind,
      speed: speeds[i] ?? 1,
      cacheBlocks: Number(values['cache-blocks']),
      batchCapacity: Number(values.batch),
      prefillMsPerToken: Number(values['prefill-ms-per-token']),
      decodeMsPerToken: Number(values['decode-ms-per-token']),
      outputTokens: Number(values['output-tokens']),
      tokensPerChunk: 4,
    }).listen(port),
  ),
);
process.stdout.write('ready\n');
const stop = (): void => void Promise.all(engines.map((engine) => engine.close())).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
