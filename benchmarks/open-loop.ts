/**
 * Fixed-rate (open-loop) load: requests evenly spaced at `rate` per second, each timed from its
 * intended send time, so a slow server shows up as latency instead of silently lowering the offered
 * load (coordinated omission). autocannon's `overallRate` sends each second's budget in a burst, which
 * measures queueing, not overhead — hence this generator.
 */
import { Pool } from 'undici';

export interface OpenLoopOptions {
  url: string;
  body: string;
  headers?: Record<string, string>;
  rate: number;
  durationMs: number;
  /** Measure time to the first body byte instead of to the end of the response. */
  firstByte?: boolean;
  connections?: number;
}

export interface LatencySummary {
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Requests actually completed per second. */
  achievedRate: number;
  /** Why the errors happened, and how often: `status 502`, `UND_ERR_SOCKET`… (absent without errors). */
  failures?: Record<string, number>;
}

export function summarize(latenciesMs: number[], errors: number, elapsedMs: number, failures?: Record<string, number>): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
  return {
    ...(failures && Object.keys(failures).length > 0 ? { failures } : {}),
    count: sorted.length,
    errors,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.at(-1) ?? NaN,
    achievedRate: (sorted.length / elapsedMs) * 1000,
  };
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<LatencySummary> {
  const url = new URL(options.url);
  const pool = new Pool(url.origin, { connections: options.connections ?? 256, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json', ...options.headers };
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let errors = 0;
  const failures: Record<string, number> = {};
  const fail = (reason: string): void => {
    errors++;
    failures[reason] = (failures[reason] ?? 0) + 1;
  };
  const pending: Promise<void>[] = [];

  const fire = (intended: number): Promise<void> =>
    (async () => {
      try {
        const response = await pool.request({ path: url.pathname, method: 'POST', headers, body: options.body });
        if (options.firstByte) {
          const iterator = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          await iterator.next();
          latencies.push(performance.now() - intended);
          for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
            // drain the rest of the stream
          }
        } else {
          await response.body.dump({ limit: Infinity });
          latencies.push(performance.now() - intended);
        }
        if (response.statusCode !== 200) fail(`status ${response.statusCode}`);
      } catch (error) {
        fail((error as { code?: string }).code ?? (error as Error).message);
      }
    })();

  const start = performance.now() + 20;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      // Send every request whose intended time has come, each stamped with its own intended time.
      while (sent < total && start + sent * intervalMs <= now) {
        pending.push(fire(start + sent * intervalMs));
        sent++;
      }
      if (sent >= total) return resolve();
      const wait = start + sent * intervalMs - performance.now();
      if (wait > 1) setTimeout(tick, wait - 1);
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(pending);
  const elapsed = performance.now() - start;
  await pool.close();
  return summarize(latencies, errors, elapsed, failures);
}
