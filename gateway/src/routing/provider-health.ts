/**
 * Active health checks for providers that configure one (self-hosted GPU servers, typically): a GET
 * on an interval; after `unhealthyAfter` failures in a row the provider's targets are skipped while
 * another target is available, and one successful check brings it back.
 */
import { request, type Dispatcher } from 'undici';
import type { GatewayConfig, HealthCheckConfig, ProviderConfig } from '../config/schema.js';

/** A provider that stands for several replicas (listed or discovered). */
export function isPool(provider: ProviderConfig): boolean {
  return provider.type === 'openai-compatible' && (provider.replicas !== undefined || provider.discovery !== undefined);
}

interface CheckState {
  readonly url: string;
  readonly config: HealthCheckConfig;
  failures: number;
  healthy: boolean;
  timer?: NodeJS.Timeout;
}

export class ProviderHealth {
  private readonly checks = new Map<string, CheckState>();

  constructor(config: GatewayConfig) {
    for (const [name, provider] of Object.entries(config.providers)) {
      // A replica pool checks each of its replicas itself.
      if (provider.type === 'mock' || !provider.healthCheck || provider.baseUrl === undefined || isPool(provider)) continue;
      const url = new URL(provider.healthCheck.path, new URL(provider.baseUrl).origin).toString();
      this.checks.set(name, { url, config: provider.healthCheck, failures: 0, healthy: true });
    }
  }

  isHealthy(providerName: string): boolean {
    return this.checks.get(providerName)?.healthy ?? true;
  }

  /** Runs one round of checks now (the interval calls this too). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.checks.values()].map((state) => this.check(state)));
  }

  start(): void {
    for (const state of this.checks.values()) {
      void this.check(state);
      state.timer = setInterval(() => void this.check(state), state.config.intervalMs);
      state.timer.unref();
    }
  }

  stop(): void {
    for (const state of this.checks.values()) clearInterval(state.timer);
  }

  private async check(state: CheckState): Promise<void> {
    noteCheck(state, await probeHealth(state.url, state.config.timeoutMs), state.config.unhealthyAfter);
  }
}

/** One health check: a GET that must answer 2xx within the timeout. */
export async function probeHealth(url: string, timeoutMs: number, dispatcher?: Dispatcher): Promise<boolean> {
  try {
    const response = await request(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs), ...(dispatcher ? { dispatcher } : {}) });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  } catch {
    return false;
  }
}

/** Healthy again after one good check; unhealthy after `unhealthyAfter` bad ones in a row. */
export function noteCheck(state: { failures: number; healthy: boolean }, ok: boolean, unhealthyAfter: number): void {
  if (ok) {
    state.failures = 0;
    state.healthy = true;
  } else {
    state.failures++;
    if (state.failures >= unhealthyAfter) state.healthy = false;
  }
}
