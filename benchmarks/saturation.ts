/**
 * Saturation (closed loop): autocannon with a fixed number of connections, as fast as answers come
 * back. Reports requests/s, latency quantiles and, when a server pid is given, that process's CPU time
 * per request (from /proc).
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface SaturationOptions {
  url: string;
  body: string;
  headers?: Record<string, string>;
  connections: number;
  durationSec: number;
  /** Processes whose CPU time is divided by the requests served. */
  pids?: number[];
}

export interface SaturationResult {
  requestsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
  cpuMsPerRequest: number | undefined;
}

const CLOCK_TICKS = 100;

/** utime + stime of a process, in ms. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

export async function runSaturation(options: SaturationOptions): Promise<SaturationResult> {
  const cpuBefore = options.pids?.map(cpuTimeMs);
  const result = await autocannon({
    url: options.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.body,
    connections: options.connections,
    duration: options.durationSec,
    pipelining: 1,
  });
  const cpuAfter = options.pids?.map(cpuTimeMs);
  const served = result.requests.total;
  const cpuMs = cpuBefore && cpuAfter ? cpuAfter.reduce((sum, value, i) => sum + value - cpuBefore[i]!, 0) : undefined;
  return {
    requestsPerSec: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuMsPerRequest: cpuMs !== undefined && served > 0 ? cpuMs / served : undefined,
  };
}
