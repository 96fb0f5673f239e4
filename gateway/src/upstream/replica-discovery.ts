/**
 * Where a pool's replicas come from: a fixed list of base URLs, or a DNS name re-resolved on an
 * interval (a Kubernetes headless Service, a Consul service name), every address a replica at the
 * configured port. A resolution that fails keeps the last known set (a DNS hiccup must not empty the
 * pool); a name that resolves to nothing (NXDOMAIN, no records: a deployment scaled to zero) empties it.
 *
 * Lookups never overlap on their own: the next one starts an interval after the last one ended, so a slow
 * server is asked no faster than it answers. And an answer older than one already applied is dropped (two
 * lookups can still overlap when one is asked for by hand), so the pool never rolls back to a set that a
 * newer answer replaced.
 */
import { promises as dns } from 'node:dns';
import { isIPv6 } from 'node:net';
import type { DiscoveryConfig } from '../config/pool-schema.js';

/** Resolves a name to its addresses. Tests inject one; the default asks the system or given servers. */
export type AddressResolver = (name: string) => Promise<string[]>;

/** Codes that mean "this name has no addresses", as opposed to "could not ask". */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** getaddrinfo: /etc/hosts, the search domains of resolv.conf — what every other program on the host sees. */
export const systemResolver: AddressResolver = async (name) => {
  const found = await dns.lookup(name, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
};

/** Asks the given DNS servers directly, for A and AAAA records. */
export function serverResolver(servers: readonly string[]): AddressResolver {
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([...servers]);
  return async (name) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
    return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  };
}

/** One replica's base URL: the template's scheme and path on `address:port`. */
export function replicaUrl(template: URL, address: string, port: number): string {
  const host = isIPv6(address) ? `[${address}]` : address;
  return `${template.protocol}//${host}:${port}${template.pathname.replace(/\/+$/, '')}`;
}

export interface DnsDiscoveryOptions {
  config: DiscoveryConfig;
  /** Gives the scheme, the path and the default name and port. */
  template: URL;
  resolver: AddressResolver;
  /** Called with the full set of replica URLs after each successful resolution. */
  onChange: (urls: string[]) => void;
  onError: (error: unknown) => void;
  /** An answer held more addresses than `maxReplicas`: the first ones (sorted) were kept, the rest left out. */
  onDropped?: (found: number, kept: number) => void;
}

/** Re-resolves a name on an interval; `start` resolves once before the interval begins. */
export class DnsDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly name: string;
  private readonly port: number;
  /** Lookups started so far, and the number of the one whose answer is applied. */
  private started = 0;
  private applied = 0;
  /** Addresses in the answer applied last, and how many of them `maxReplicas` left out. */
  found = 0;
  dropped = 0;

  constructor(private readonly options: DnsDiscoveryOptions) {
    const { config, template } = options;
    this.name = config.name ?? template.hostname.replace(/^\[|\]$/g, '');
    this.port = config.port ?? (template.port ? Number(template.port) : template.protocol === 'https:' ? 443 : 80);
  }

  async start(): Promise<void> {
    await this.resolveOnce();
    this.scheduleNext();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.resolveOnce().finally(() => this.scheduleNext()), this.options.config.intervalMs);
    this.timer.unref();
  }

  async resolveOnce(): Promise<void> {
    const lookup = ++this.started;
    let addresses: string[];
    try {
      addresses = await this.options.resolver(this.name);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && NO_SUCH_NAME.has(code)) {
        addresses = [];
      } else {
        this.options.onError(error);
        return;
      }
    }
    if (this.stopped || lookup < this.applied) return;
    this.applied = lookup;
    // Sorted and bounded, so one answer always maps to the same set whatever order the server used.
    const unique = [...new Set(addresses)].sort();
    const kept = unique.slice(0, this.options.config.maxReplicas);
    this.found = unique.length;
    this.dropped = unique.length - kept.length;
    if (this.dropped > 0) this.options.onDropped?.(unique.length, kept.length);
    this.options.onChange(kept.map((address) => replicaUrl(this.options.template, address, this.port)));
  }
}
