/**
 * Active health checks for providers that configure one (self-hosted GPU servers, typically): a GET
 * on an interval; after `unhealthyAfter` failures in a row the provider's targets are skipped while
 * another target is available, and one successful check brings it back.
 */
import { request } from 'undici';
import type { GatewayConfig, HealthCheckConfig } from '../config/schema.js';

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
      if (provider.type === 'mock' || !provider.healthCheck) continue;
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
    let ok = false;
    try {
      const response = await request(state.url, { method: 'GET', signal: AbortSignal.timeout(state.config.timeoutMs) });
      await response.body.dump();
      ok = response.statusCode >= 200 && response.statusCode < 300;
    } catch {
      ok = false;
    }
    if (ok) {
      state.failures = 0;
      state.healthy = true;
    } else {
      state.failures++;
      if (state.failures >= state.config.unhealthyAfter) state.healthy = false;
    }
  }
}
