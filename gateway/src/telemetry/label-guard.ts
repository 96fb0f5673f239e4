/**
 * Keeps a metric label's values to a set fixed at start, from the configuration: anything else is
 * `other`, and an absent value is `none`. Direct addressing (`<provider>/<any model>`) lets clients name
 * models nobody configured; they share one `other` series instead of adding series of their own.
 */
export class LabelGuard {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowed: Iterable<string>) {
    this.allowed = new Set(allowed);
  }

  value(raw: string | undefined): string {
    if (raw === undefined || raw === '') return 'none';
    return this.allowed.has(raw) ? raw : 'other';
  }
}
