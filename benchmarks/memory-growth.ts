/**
 * Where the memory of a gateway that serves one saturation scenario after another goes (as the main
 * gateway of `npm run bench` does), and whether it keeps growing. The gateway runs in its default
 * configuration with `npm start`'s arguments, plus `--expose-gc --require benchmarks/memory-probe.cjs`.
 * After each scenario (warm-up, then `--runs` saturations of `--seconds`, as run.ts does) it records:
 *
 * - the scenario's peak RSS (VmHWM, reset before it) and RSS once the load stops;
 * - the main thread's and the trace worker's heaps after two forced full collections (memory-probe.cjs);
 * - RSS after those collections, split from /proc/<pid>/smaps: files (node, libduckdb.so, …), the brk
 *   heap (glibc's main arena), anonymous mappings (V8's pages, glibc's thread arenas, DuckDB's jemalloc);
 * - with `--native` (gdb attached between scenarios): glibc's arenas (malloc_stats: system bytes and in
 *   use) and DuckDB's jemalloc (allocated, resident); with `--trim` also RSS after glibc's malloc_trim(0)
 *   — what glibc holds free but does not give back (the next scenario then starts from the trimmed heap).
 *
 *   tsx benchmarks/memory-growth.ts --rounds 2 --native [--trim] [--only 'chat JSON'] [--snapshot] \
 *     [--env DUCKDB_JE_MALLOC_CONF=dirty_decay_ms:0]
 *
 * `--snapshot` writes heap snapshots of both threads after each round (into the printed directory), for
 * comparison in Chrome's DevTools.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../gateway/test/helpers/free-port.js';
import { CHAT_BODY, gatewayConfig, RESPONSES_BODY } from './bench-gateway.js';
import { stopChild, waitForHttp } from './processes.js';
import { runSaturation } from './saturation.js';
import { startCommand } from './start-command.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    only: { type: 'string', multiple: true, default: [] },
    native: { type: 'boolean', default: false },
    trim: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
  },
});

interface Scenario {
  name: string;
  path: 'chat/completions' | 'responses';
  body: string;
}

/** The main gateway's saturation scenarios in run.ts, in its order. */
const SCENARIOS: Scenario[] = [
  { name: 'chat JSON', path: 'chat/completions', body: CHAT_BODY('bench') },
  { name: 'chat stream', path: 'chat/completions', body: CHAT_BODY('bench', true) },
  { name: 'responses JSON (translated)', path: 'responses', body: RESPONSES_BODY('bench') },
  { name: 'responses stream (translated)', path: 'responses', body: RESPONSES_BODY('bench', true) },
  { name: 'responses JSON (native)', path: 'responses', body: RESPONSES_BODY('bench-native') },
  { name: 'responses stream (native)', path: 'responses', body: RESPONSES_BODY('bench-native', true) },
  { name: 'policies on (JSON)', path: 'chat/completions', body: CHAT_BODY('policy') },
  { name: 'policies on (stream)', path: 'chat/completions', body: CHAT_BODY('policy', true) },
  { name: 'cache hit', path: 'chat/completions', body: CHAT_BODY('cached') },
  { name: 'fallback (500 → ok)', path: 'chat/completions', body: CHAT_BODY('fallback') },
];

interface HeapStats {
  used_heap_size: number;
  total_heap_size: number;
  total_physical_size: number;
  malloced_memory: number;
  external_memory: number;
}
interface Probe {
  main: { stats: HeapStats };
  workers: Array<{ threadId: number; stats: HeapStats }>;
}

const mib = (bytes: number): number => Math.round(bytes / 104857.6) / 10;

function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 102.4) / 10;
}

/**
 * Resident MiB by kind of mapping. glibc's thread arenas are recognisable: each heap is a 64 MiB-aligned
 * anonymous mapping followed by its PROT_NONE remainder, 64 MiB together. LazyFree: pages an allocator
 * gave back with MADV_FREE, still counted in RSS until the kernel needs them.
 */
function smapsSplit(pid: number): { files: number; duckdbLib: number; nodeBinary: number; brk: number; anon: number; glibcArenas: number; lazyFree: number } {
  interface Mapping {
    start: bigint;
    end: bigint;
    perms: string;
    name: string;
    rssKb: number;
    lazyFreeKb: number;
  }
  const mappings: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      mappings.push({ start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, name: header[4]!, rssKb: 0, lazyFreeKb: 0 });
      continue;
    }
    const field = /^(Rss|LazyFree):\s+(\d+) kB/.exec(line);
    if (field && mappings.length > 0) mappings.at(-1)![field[1] === 'Rss' ? 'rssKb' : 'lazyFreeKb'] += Number(field[2]);
  }
  const HEAP = 64n << 20n;
  const split = { files: 0, duckdbLib: 0, nodeBinary: 0, brk: 0, anon: 0, glibcArenas: 0, lazyFree: 0 };
  mappings.forEach((m, i) => {
    const next = mappings[i + 1];
    const glibcHeap = m.name === '' && m.start % HEAP === 0n && (m.end - m.start === HEAP || (next?.perms.startsWith('---') && next.start === m.end && next.end - m.start === HEAP));
    const kind: keyof typeof split =
      m.name === '' || (m.name.startsWith('[') && m.name !== '[heap]') ? 'anon' : m.name === '[heap]' ? 'brk' : m.name.includes('libduckdb') ? 'duckdbLib' : m.name.endsWith('/node') ? 'nodeBinary' : 'files';
    split[kind] += m.rssKb / 1024;
    if (glibcHeap) split.glibcArenas += m.rssKb / 1024;
    split.lazyFree += m.lazyFreeKb / 1024;
  });
  for (const key of Object.keys(split) as Array<keyof typeof split>) split[key] = Math.round(split[key] * 10) / 10;
  return split;
}

/**
 * glibc's arenas and DuckDB's jemalloc, read with gdb attached (the process is paused meanwhile), then
 * malloc_trim(0). The allocators print to the gateway's stderr, which goes to `stderrFile`.
 */
function nativeHeaps(pid: number, stderrFile: string, trim: boolean): { glibcSystem: number; glibcInUse: number; jeAllocated: number; jeResident: number; rssAfterTrim: number | undefined } {
  const before = readFileSync(stderrFile, 'utf8').length;
  const calls = ['call (void)malloc_stats()', 'call (void)duckdb_je_malloc_stats_print(0, 0, "gblxea")', ...(trim ? ['call (int)malloc_trim(0)'] : [])];
  execFileSync('gdb', ['-p', String(pid), '-batch', ...calls.flatMap((call) => ['-ex', call])], { stdio: 'ignore', timeout: 60_000 });
  const text = readFileSync(stderrFile, 'utf8').slice(before);
  const total = /Total \(incl\. mmap\):\s*\nsystem bytes\s*=\s*(\d+)\s*\nin use bytes\s*=\s*(\d+)/.exec(text);
  const je = /Allocated: (\d+), active: (\d+), metadata: (\d+).*?, resident: (\d+), mapped: (\d+)/.exec(text);
  return {
    glibcSystem: mib(Number(total?.[1] ?? NaN)),
    glibcInUse: mib(Number(total?.[2] ?? NaN)),
    jeAllocated: mib(Number(je?.[1] ?? NaN)),
    jeResident: mib(Number(je?.[4] ?? NaN)),
    rssAfterTrim: trim ? statusMb(pid, 'VmRSS') : undefined,
  };
}

/** The trace rows the gateway counts as written, spooled and dropped so far (its /metrics). */
async function traceCounts(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const count = (name: string): number => Number(new RegExp(`^gateway_traces_${name}_total (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return `${count('written')} / ${count('spooled')} / ${count('dropped')}`;
}

async function probe(pid: number, dir: string, id: number, snapshot: boolean): Promise<Probe> {
  writeFileSync(join(dir, 'request.json'), JSON.stringify({ id, snapshot }));
  process.kill(pid, 'SIGUSR2');
  const file = join(dir, `probe-${id}.json`);
  const deadline = Date.now() + 60_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error('the memory probe did not answer');
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 200));
  return JSON.parse(readFileSync(file, 'utf8')) as Probe;
}

async function main(): Promise<void> {
  const scenarios = args.only.length > 0 ? SCENARIOS.filter((s) => args.only.includes(s.name)) : SCENARIOS;
  const work = mkdtempSync(join(tmpdir(), 'gateway-memory-growth-'));
  process.stdout.write(`work directory ${work}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const upstreamPort = await freePort();
  const upstream = spawn(process.execPath, ['--import', 'tsx', 'benchmarks/mock-upstream.ts', '--port', String(upstreamPort), '--chunks', '8'], { cwd: ROOT, stdio: 'ignore' });
  const port = await freePort();
  const stderrFile = join(work, 'gateway.stderr');
  const extraEnv = Object.fromEntries(args.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  const start = startCommand(ROOT);
  const gateway = spawn(process.execPath, [...start.args.slice(0, -1), '--expose-gc', '--require', join(ROOT, 'benchmarks/memory-probe.cjs'), start.args.at(-1)!], {
    cwd: ROOT,
    env: { ...process.env, ...start.env, ...extraEnv, GATEWAY_CONFIG: gatewayConfig(work, 'default', upstreamPort, {}), PORT: String(port), MEMORY_PROBE_DIR: work },
    stdio: ['ignore', 'ignore', openSync(stderrFile, 'a')],
  });
  const pid = gateway.pid!;
  const lines: string[] = [];
  const emit = (text: string): void => {
    lines.push(text);
    process.stdout.write(text + '\n');
  };
  try {
    await waitForHttp(`http://127.0.0.1:${upstreamPort}/`, undefined, upstream);
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, undefined, gateway);
    emit(
      '| round | scenario | req/s | CPU ms/req | peak RSS | RSS after load | RSS after GC | main heap used / committed | worker heap used / committed | smaps anon (glibc thread arenas; LazyFree) / brk / files (node, duckdb, other) | traces written / spooled / dropped (so far) |' +
        (args.native ? ' glibc system / in use | jemalloc allocated / resident | RSS after malloc_trim |' : ''),
    );
    emit('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |' + (args.native ? ' ---: | ---: | ---: |' : ''));
    let id = 0;
    for (let round = 1; round <= Number(args.rounds); round++) {
      for (const scenario of scenarios) {
        const url = `http://127.0.0.1:${port}/v1/${scenario.path}`;
        await runSaturation({ url, body: scenario.body, connections: 32, durationSec: 2 });
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
        const runs: Array<{ rate: number; cpu: number }> = [];
        for (let i = 0; i < Number(args.runs); i++) {
          const result = await runSaturation({ url, body: scenario.body, connections: 32, durationSec: Number(args.seconds), pids: [pid] });
          if (result.errors > 0 || result.non2xx > 0) throw new Error(`${scenario.name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
          runs.push({ rate: result.requestsPerSec, cpu: result.cpuMsPerRequest ?? NaN });
        }
        const median = runs.sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)]!;
        const peak = statusMb(pid, 'VmHWM');
        // Let the trace worker take the last rows (it sends every 100 ms, flushes every second).
        await new Promise((r) => setTimeout(r, 2000));
        const afterLoad = statusMb(pid, 'VmRSS');
        const snapshot = args.snapshot && scenario === scenarios.at(-1);
        const heaps = await probe(pid, work, ++id, snapshot);
        const afterGc = statusMb(pid, 'VmRSS');
        const split = smapsSplit(pid);
        const worker = heaps.workers[0]?.stats;
        const heap = (s: HeapStats | undefined): string => (s ? `${mib(s.used_heap_size)} / ${mib(s.total_physical_size)}` : '–');
        let row = `| ${round} | ${scenario.name} | ${median.rate.toFixed(0)} | ${median.cpu.toFixed(3)} | ${peak} | ${afterLoad} | ${afterGc} | ${heap(heaps.main.stats)} | ${heap(worker)} | ${split.anon} (${split.glibcArenas}; ${split.lazyFree}) / ${split.brk} / ${split.nodeBinary}, ${split.duckdbLib}, ${split.files} | ${await traceCounts(port)} |`;
        if (args.native) {
          const native = nativeHeaps(pid, stderrFile, args.trim);
          row += ` ${native.glibcSystem} / ${native.glibcInUse} | ${native.jeAllocated} / ${native.jeResident} | ${native.rssAfterTrim ?? '–'} |`;
        }
        emit(row);
      }
    }
  } finally {
    await stopChild(gateway);
    await stopChild(upstream);
  }
  emit(`\nload at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}; MiB throughout`);
  if (args.out) writeFileSync(args.out, lines.join('\n') + '\n');
}

await main();
