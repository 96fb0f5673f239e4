/**
 * The memory cache costs what it counts: a gateway process (run with --expose-gc) serves many large
 * answers — misses, same-form and cross-form hits, JSON and streamed — and after full collections its heap
 * and external memory have grown by about `cache.maxBytes`, not by a multiple of it. The peak RSS of a
 * whole workload is measured by benchmarks/cache-memory.ts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MiB = 1024 * 1024;

describe('memory cache accounting', () => {
  it('retains no more than its byte bound, whatever form answers arrive and leave in', () => {
    const maxBytes = 16 * MiB;
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'gateway/test/helpers/cache-heap-probe.ts', String(maxBytes), '500000', '48'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { heapGrowth: number; externalGrowth: number; counted: number; departed: number; hits: { json: number; stream: number } };
    // Every answer was hit twice (same form, other form), so decoded or re-serialised copies would show.
    expect(result.hits.json).toBeGreaterThanOrEqual(48);
    expect(result.hits.stream).toBeGreaterThanOrEqual(48);
    // The cache is full, within its bound…
    expect(result.counted).toBeLessThanOrEqual(maxBytes);
    expect(result.counted).toBeGreaterThan(0.75 * maxBytes);
    // …and that is what the process retains.
    expect(result.heapGrowth + result.externalGrowth).toBeLessThan(1.25 * maxBytes);
    // Every hit gave its lease back once sent: nothing evicted is still held.
    expect(result.departed).toBe(0);
  }, 60_000);
});
