/**
 * Log lines to stdout from the trace worker, asynchronously: lines written while a write is in flight
 * are joined into the next one, and a partial write or a full pipe (EAGAIN) is resumed where it
 * stopped, so no line is ever torn. If stdout stops taking lines, at most MAX_PENDING_BYTES wait; past
 * that, lines are dropped rather than grow memory without bound.
 */
import { write } from 'node:fs';

const MAX_PENDING_BYTES = 32 * 1024 * 1024;
const RETRY_MS = 10;

export class StdoutLines {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private idle: (() => void)[] = [];
  /** Lines dropped because stdout was not keeping up. */
  dropped = 0;

  constructor(private readonly fd = 1) {}

  write(text: string): void {
    if (this.pendingBytes + text.length > MAX_PENDING_BYTES) {
      for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.dropped++;
      return;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (!this.writing) this.next();
  }

  /** Resolves once every line written so far reached stdout (or was given up on). */
  flush(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private next(): void {
    if (this.pending.length === 0) {
      this.writing = false;
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.writing = true;
    const buffer = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    this.send(buffer, 0);
  }

  private send(buffer: Buffer, offset: number): void {
    write(this.fd, buffer, offset, buffer.length - offset, null, (error, written) => {
      if (error && (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK')) {
        setTimeout(() => this.send(buffer, offset), RETRY_MS);
        return;
      }
      // stdout closed (EPIPE) or failing: nothing more can be done with these lines.
      if (error || offset + written >= buffer.length) this.next();
      else this.send(buffer, offset + written);
    });
  }
}
