/**
 * A preload for benchmarks only: `node --expose-gc --require ./benchmarks/memory-probe.cjs dist/main.js`.
 * The worker threads inherit the process's options, so it loads in the trace worker too.
 *
 * On SIGUSR2 the main thread reads MEMORY_PROBE_DIR/request.json ({ id, snapshot }), asks every thread
 * (over a BroadcastChannel) to run two full collections and report v8.getHeapStatistics() — and, with
 * `snapshot`, to write a heap snapshot — then writes MEMORY_PROBE_DIR/probe-<id>.json:
 * { main: stats, workers: [{ threadId, stats }], snapshots: [paths] }.
 * CommonJS on purpose: `--require` preloads run in worker threads on every Node the project supports.
 */
'use strict';
const { BroadcastChannel, isMainThread, threadId } = require('node:worker_threads');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');

const dir = process.env.MEMORY_PROBE_DIR;
if (dir && typeof globalThis.gc === 'function') {
  const channel = new BroadcastChannel('memory-probe');
  channel.unref();

  const measure = (request) => {
    globalThis.gc();
    globalThis.gc();
    const snapshot = request.snapshot ? v8.writeHeapSnapshot(join(dir, `heap-${request.id}-thread${threadId}.heapsnapshot`)) : undefined;
    return { threadId, stats: v8.getHeapStatistics(), snapshot };
  };

  if (isMainThread) {
    let replies = [];
    channel.onmessage = ({ data }) => {
      if (data.reply) replies.push(data.reply);
    };
    process.on('SIGUSR2', () => {
      const request = JSON.parse(readFileSync(join(dir, 'request.json'), 'utf8'));
      replies = [];
      channel.postMessage({ request });
      // Workers answer on their own event loops; a second is plenty for two collections and a snapshot.
      setTimeout(() => {
        const main = measure(request);
        writeFileSync(join(dir, `probe-${request.id}.json`), JSON.stringify({ main, workers: replies }));
      }, request.snapshot ? 5000 : 1000);
    });
  } else {
    channel.onmessage = ({ data }) => {
      if (data.request) channel.postMessage({ reply: measure(data.request) });
    };
  }
}
