/**
 * Append-only disk spool for trace rows the sink could not take: JSON lines in numbered segment files
 * under the data directory, read back oldest first, deleted once replayed. It survives restarts, and it
 * has a byte budget: past it, rows are refused (and the caller counts them as dropped). The files hold
 * request data (bodies, with logBodies): the directory is the owner's alone (0700), the files 0600.
 *
 * A write that fails part-way (the disk full) is cut back to the segment's previous length, so no torn
 * line is left to merge with the next one; a segment that got nothing is removed.
 */
import { appendFile, chmod, mkdir, readdir, readFile, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT = /^(\d{12})\.jsonl$/;
/** Rows the sink refused for good, one JSON line each with the reason, kept for an operator to look at. */
export const QUARANTINE_FILE = 'quarantined.ndjson';
const FILE_MODE = 0o600;

/** Whether a directory holds spool segments (rows to replay). */
export function isSegmentName(name: string): boolean {
  return SEGMENT.test(name);
}

export interface SpoolSegment<T> {
  name: string;
  rows: T[];
}

export class DiskSpool<T> {
  private segments: { seq: number; bytes: number }[] = [];
  private writeSeq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private bytes = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes = 4 * 1024 * 1024,
    /** How a segment is appended to (a test makes it fail part-way, as a full disk does). */
    private readonly appendText: (file: string, text: string) => Promise<void> = (file, text) => appendFile(file, text, { mode: FILE_MODE }),
  ) {}

  /**
   * Finds segments left by an earlier run. It runs on the spool's chain, so an append, a read or a
   * removal asked for meanwhile waits for it (a segment written before the listing would be counted
   * twice, and writeSeq set back to it).
   */
  open(): Promise<void> {
    const run = this.chain.then(() => this.scan());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async scan(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const files = (await readdir(this.dir)).map((f) => SEGMENT.exec(f)).filter((m): m is RegExpExecArray => m !== null);
    for (const match of files.sort((a, b) => Number(a[1]) - Number(b[1]))) {
      const size = (await stat(join(this.dir, match[0]))).size;
      // An empty segment (a write that failed before any byte landed) holds nothing to replay.
      if (size === 0) {
        await unlink(join(this.dir, match[0])).catch(() => undefined);
        continue;
      }
      if (this.segments.some((segment) => segment.seq === Number(match[1]))) continue;
      this.segments.push({ seq: Number(match[1]), bytes: size });
      this.bytes += size;
    }
    this.segments.sort((a, b) => a.seq - b.seq);
    this.writeSeq = Math.max(this.writeSeq, (this.segments.at(-1)?.seq ?? 0) + 1);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  /** Appends rows; resolves false (writing nothing) when they would not fit in the budget. */
  append(rows: readonly T[]): Promise<boolean> {
    const text = rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
    const size = Buffer.byteLength(text);
    const run = this.chain.then(async () => {
      if (this.bytes + size > this.maxBytes) return false;
      let current = this.segments.at(-1);
      if (!current || current.seq !== this.writeSeq || current.bytes >= this.segmentBytes) {
        if (current && current.seq === this.writeSeq) this.writeSeq++;
        current = { seq: this.writeSeq, bytes: 0 };
        this.segments.push(current);
      }
      const file = join(this.dir, this.fileName(current.seq));
      try {
        await this.appendText(file, text);
      } catch (error) {
        await this.undoAppend(current, file);
        throw error;
      }
      current.bytes += size;
      this.bytes += size;
      return true;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Cuts a segment back to what it held before a failed write; forgets it if that was nothing. */
  private async undoAppend(segment: { seq: number; bytes: number }, file: string): Promise<void> {
    if (segment.bytes > 0) {
      await truncate(file, segment.bytes).catch(() => undefined);
      return;
    }
    this.segments.splice(this.segments.indexOf(segment), 1);
    await unlink(file).catch(() => undefined);
  }

  /** Sets rows aside for good, with the sink's reason. Outside the budget: an operator removes the file. */
  quarantine(rows: readonly T[], reason: unknown): Promise<void> {
    const why = reason instanceof Error ? reason.message : String(reason);
    const text = rows.map((row) => JSON.stringify({ reason: why, row })).join('\n') + '\n';
    const run = this.chain.then(() => appendFile(join(this.dir, QUARANTINE_FILE), text, { mode: FILE_MODE }));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The oldest segment; the segment being written is closed first so new rows go to a new one. */
  oldest(): Promise<SpoolSegment<T> | undefined> {
    const run = this.chain.then(async () => {
      let first: { seq: number; bytes: number } | undefined;
      let text: string | undefined;
      while ((first = this.segments[0])) {
        if (first.seq === this.writeSeq) this.writeSeq++;
        text = await readFile(join(this.dir, this.fileName(first.seq)), 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return undefined;
        });
        if (text !== undefined) break;
        // Removed behind the spool's back (or never there): nothing to replay, and no reason to fail
        // every later replay on it.
        this.segments.shift();
        this.bytes -= first.bytes;
      }
      if (!first || text === undefined) return undefined;
      const rows: T[] = [];
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          rows.push(JSON.parse(line) as T);
        } catch {
          // A line torn by a crash mid-write is skipped; the rest of the segment is still good.
        }
      }
      return { name: this.fileName(first.seq), rows };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  remove(name: string): Promise<void> {
    const run = this.chain.then(async () => {
      const index = this.segments.findIndex((s) => this.fileName(s.seq) === name);
      if (index === -1) return;
      const [segment] = this.segments.splice(index, 1);
      this.bytes -= segment!.bytes;
      await unlink(join(this.dir, name)).catch(() => undefined);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for pending writes. */
  async settle(): Promise<void> {
    await this.chain;
  }

  private fileName(seq: number): string {
    return `${String(seq).padStart(12, '0')}.jsonl`;
  }
}
