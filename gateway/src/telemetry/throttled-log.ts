/**
 * Logs a recurring problem at most once per interval, with how many times it happened in between, so a
 * dead dependency does not flood the logs at request rate.
 */
export class ThrottledLog {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly write: (suppressed: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  hit(): void {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAt = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.write(suppressed);
  }
}
