/**
 * The trace pipeline on its own, against a real DuckDB (in memory) that can be made to fail on cue: a
 * failed replay is tried again by itself, a spool that cannot write costs rows (counted) but never a
 * rejection, and rows settle in order so the trace worker can acknowledge them.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskSpool } from '../../src/telemetry/disk-spool.js';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import { PendingOrdinals } from '../../src/telemetry/pending-ordinals.js';
import { TracePipeline } from '../../src/telemetry/trace-pipeline.js';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { traceRow } from '../helpers/trace-rows.js';

/** DuckDB whose next `failures` inserts fail, as a store that is down for a while. */
class FlakySink extends DuckDbSink {
  failures = 0;

  override insertTraces(rows: readonly TraceRow[], mayRepeat?: boolean): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(Object.assign(new Error('store down'), { code: 'ECONNREFUSED' }));
    }
    return super.insertTraces(rows, mayRepeat);
  }

  // Down is down for every statement (the pipeline probes with a select before it blames rows).
  override select(sql: string): Promise<Record<string, unknown>[]> {
    return this.failures > 0 ? Promise.reject(new Error('store down')) : super.select(sql);
  }
}

const open: { pipeline: TracePipeline; sink: DuckDbSink }[] = [];
afterEach(async () => {
  for (const { pipeline, sink } of open.splice(0)) {
    await pipeline.close();
    await sink.close();
  }
});

async function pipelineOn(spoolDir: string): Promise<{ pipeline: TracePipeline; sink: FlakySink; counts: Record<string, number> }> {
  const sink = new FlakySink(':memory:');
  await sink.init();
  const spool = new DiskSpool<TraceRow>(spoolDir, 10_000_000);
  await spool.open();
  const counts: Record<string, number> = { written: 0, spooled: 0, dropped: 0, quarantined: 0, spoolErrors: 0 };
  const pipeline = new TracePipeline(sink, spool, { batchSize: 100, flushIntervalMs: 3_600_000, maxQueue: 1000 }, {
    written: (n) => void (counts.written! += n),
    spooled: (n) => void (counts.spooled! += n),
    dropped: (n) => void (counts.dropped! += n),
    quarantined: (n) => void (counts.quarantined! += n),
    sinkError: () => undefined,
    sinkRecovered: () => undefined,
    spoolError: () => void counts.spoolErrors!++,
  });
  pipeline.start();
  open.push({ pipeline, sink });
  return { pipeline, sink, counts };
}

describe('the trace pipeline', () => {
  it('tries a failed replay again by itself, with no new rows to prompt it', async () => {
    const { pipeline, sink, counts } = await pipelineOn(mkdtempSync(join(tmpdir(), 'pipeline-')));
    sink.failures = 3; // the live insert, then the first two replays
    for (let i = 0; i < 5; i++) pipeline.record(traceRow());
    await pipeline.flush();
    expect(counts.spooled).toBe(5);
    await expect.poll(() => counts.written, { timeout: 10_000 }).toBe(5);
    expect((await sink.countTraces()).distinct).toBe(5);
    expect(pipeline.spool.isEmpty).toBe(true);
    expect(counts.quarantined).toBe(0);
  });

  it('a spool that cannot write: rows counted as dropped, nothing rejects, close completes', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pipeline-')), 'spool');
    const { pipeline, sink, counts } = await pipelineOn(dir);
    sink.failures = 1_000;
    rmSync(dir, { recursive: true });
    writeFileSync(dir, ''); // the directory is now a file: every append fails
    for (let i = 0; i < 3; i++) pipeline.record(traceRow());
    await pipeline.flush();
    expect(counts.dropped).toBe(3);
    expect(counts.spoolErrors).toBeGreaterThan(0);
    // The chain of work is not stuck on the failure: later rows go the same way.
    pipeline.record(traceRow());
    await pipeline.flush();
    expect(counts.dropped).toBe(4);
    pipeline.record(traceRow());
    await expect(pipeline.close()).resolves.toBeUndefined();
    expect(counts.dropped).toBe(5);
    expect(pipeline.settledBefore).toBe(pipeline.recorded);
  });

  it('rows settle in order: settledBefore only passes a row once it is stored or spooled', async () => {
    const { pipeline, counts } = await pipelineOn(mkdtempSync(join(tmpdir(), 'pipeline-')));
    for (let i = 0; i < 3; i++) pipeline.record(traceRow());
    expect(pipeline.recorded).toBe(3);
    expect(pipeline.settledBefore).toBe(0);
    const flushed = pipeline.flush();
    expect(pipeline.settledBefore).toBe(0);
    await flushed;
    expect(counts.written).toBe(3);
    expect(pipeline.settledBefore).toBe(3);
  });
});

describe('pending ordinals', () => {
  it('the least ordinal in flight matches a plain list through adds and out-of-order settles', () => {
    const random = seededRandom(7);
    const pending = new PendingOrdinals();
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      if (model.length === 0 || random() < 0.55) {
        // Batches take ordinals in order, and a spill may take a run of them.
        next += 1 + Math.floor(random() * 3);
        pending.add(next);
        model.push(next);
      } else {
        // Mostly the oldest settles first; spills settle whenever they do.
        const index = random() < 0.7 ? 0 : Math.floor(random() * model.length);
        pending.settle(model.splice(index, 1)[0]!);
      }
      expect(pending.least()).toBe(model.length === 0 ? undefined : Math.min(...model));
    }
  });
});

describe('the disk spool', () => {
  /** Appends that fail once, after writing `part` of the text (0: nothing), as a disk filling up. */
  function failingOnce(part: number): (file: string, text: string) => Promise<void> {
    let failed = false;
    return async (file, text) => {
      if (failed) return appendFile(file, text);
      failed = true;
      if (part > 0) await appendFile(file, text.slice(0, Math.floor(text.length * part)));
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    };
  }

  it('a write that failed part-way leaves no torn line to swallow the next row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    let calls = 0;
    const once = failingOnce(0.5);
    const spool = new DiskSpool<{ n: number }>(dir, 1_000_000, 4 * 1024 * 1024, (file, text) => (++calls === 2 ? once(file, text) : appendFile(file, text)));
    await spool.open();
    expect(await spool.append([{ n: 1 }])).toBe(true);
    await expect(spool.append([{ n: 2 }])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await spool.append([{ n: 3 }])).toBe(true);
    expect((await spool.oldest())?.rows).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('a first write that failed leaves no empty segment behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const spool = new DiskSpool<{ n: number }>(dir, 1_000_000, 4 * 1024 * 1024, failingOnce(0));
    await spool.open();
    await expect(spool.append([{ n: 1 }])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(spool.isEmpty).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  });

  it('an append asked for while the spool opens waits for it: the segment is listed once, the next one numbered after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    writeFileSync(join(dir, '000000000003.jsonl'), '{"n":0}\n');
    const spool = new DiskSpool<{ n: number }>(dir, 1_000_000, 1);
    const opened = spool.open();
    const appended = spool.append([{ n: 1 }]);
    await opened;
    expect(await appended).toBe(true);
    expect(await spool.append([{ n: 2 }])).toBe(true);
    const seen: number[] = [];
    for (let segment = await spool.oldest(); segment; segment = await spool.oldest()) {
      seen.push(...segment.rows.map((row) => row.n));
      await spool.remove(segment.name);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(spool.isEmpty).toBe(true);
    expect(spool.sizeBytes).toBe(0);
  });

  it('a segment whose file is gone is dropped, not read for ever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const spool = new DiskSpool<{ n: number }>(dir, 1_000_000, 1);
    await spool.open();
    await spool.append([{ n: 1 }]);
    await spool.append([{ n: 2 }]);
    rmSync(join(dir, readdirSync(dir).sort()[0]!));
    expect((await spool.oldest())?.rows).toEqual([{ n: 2 }]);
    expect(spool.sizeBytes).toBe(Buffer.byteLength('{"n":2}\n'));
  });
});
