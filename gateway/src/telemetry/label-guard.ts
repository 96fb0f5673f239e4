/**
 * Keeps a metric label's cardinality bounded: the first `limit` distinct values pass, later ones become
 * "other". Direct addressing (`<provider>/<any model>`) lets clients invent model names; this stops
 * them from inventing time series.
 */
export class LabelGuard {
  private readonly seen = new Set<string>();

  constructor(private readonly limit: number) {}

  value(raw: string | undefined): string {
    if (raw === undefined || raw === '') return 'none';
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(raw);
    return raw;
  }
}
