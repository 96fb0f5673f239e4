/**
 * One contract for every TraceSink: the embedded DuckDB file and a real ClickHouse server behave the
 * same — duplicates collapse, feedback and export round-trip, retention removes old rows.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/telemetry/clickhouse-migrations.js';
import { ClickHouseSink } from '../../src/telemetry/clickhouse-sink.js';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import type { TraceSink } from '../../src/telemetry/trace-sink.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { MIGRATE_JS, runGatewayToExit } from '../helpers/gateway-process.js';
import { traceRow } from '../helpers/trace-rows.js';

let clickhouse: ClickHouseServer;
beforeAll(async () => {
  clickhouse = await startClickHouseServer();
}, 30_000);
afterAll(async () => {
  await clickhouse?.stop();
});

const sinks: [string, () => TraceSink][] = [
  ['duckdb', () => new DuckDbSink(join(mkdtempSync(join(tmpdir(), 'gateway-duck-')), 'traces.duckdb'))],
  ['clickhouse', () => new ClickHouseSink({ url: clickhouse.url, database: `contract_${Date.now()}`, requestTimeoutMs: 5000 })],
];

describe.each(sinks)('TraceSink contract: %s', (_name, make) => {
  let sink: TraceSink;
  beforeAll(async () => {
    sink = make();
    await sink.init();
    await sink.init(); // migrations are idempotent
  });
  afterAll(async () => {
    await sink.close();
  });

  it('stores rows with every field intact', async () => {
    const row = traceRow({
      trace_id: 'full-1',
      client_request_id: 'client-req-1',
      stream: 1,
      ttft_ms: 3.25,
      cost_usd: null,
      variant: 'canary',
      metadata_keys: ['a', 'b'],
      metadata_values: ['1', "it's"],
      user: 'ü',
      branch: 'premium/long',
      guardrail_names: ['pii', 'answer-json'],
      guardrail_stages: ['input', 'output'],
      guardrail_verdicts: ['redact', 'retry'],
      guardrail_findings: ['email×2', "schema: /answer must be number"],
      guardrail_trips: 1,
    });
    await sink.insertTraces([row]);
    expect(await sink.getTrace('full-1')).toEqual(row);
    expect(await sink.getTrace("nope' OR '1'='1")).toBeUndefined();
  });

  it('stores any text a client can send, and a batch with one odd value loses no row', async () => {
    const text = 'quote \' " back \\ newline \n tab \t nul \u0000 ünïcödé 😀';
    const rows = [
      traceRow({ trace_id: 'text-1', user: text, metadata_keys: [text], metadata_values: [text], requested_model: text }),
      // JSON can carry a lone UTF-16 surrogate; stored text is UTF-8, so it becomes U+FFFD.
      traceRow({ trace_id: 'text-2', user: 'lone \ud800 surrogate', metadata_keys: ['k\udfff'], metadata_values: ['v'] }),
      // A fractional or negative count never makes the batch unreadable: integer columns keep the whole part, at least 0.
      traceRow({ trace_id: 'text-3', input_tokens: 10.7, output_tokens: -3, ts_ms: 1_750_000_000_000.9 }),
    ];
    await sink.insertTraces(rows);
    expect(await sink.getTrace('text-1')).toEqual(rows[0]);
    expect(await sink.getTrace('text-2')).toMatchObject({ user: 'lone \ufffd surrogate', metadata_keys: ['k\ufffd'], metadata_values: ['v'] });
    expect(await sink.getTrace('text-3')).toMatchObject({ input_tokens: 10, output_tokens: 0, ts_ms: 1_750_000_000_000 });
  });

  it('collapses duplicate trace ids, so a replay never double-counts', async () => {
    const before = await sink.countTraces();
    const rows = Array.from({ length: 50 }, (_, i) => traceRow({ trace_id: `dup-${i}`, ts_ms: 1_700_000_000_000 + i }));
    await sink.insertTraces(rows);
    await sink.insertTraces(rows.slice(10, 40), true);
    await sink.insertTraces([...rows.slice(45), ...rows.slice(45)], true);
    const after = await sink.countTraces();
    expect(after.distinct - before.distinct).toBe(50);
  });

  it('stores feedback and lists it with the trace', async () => {
    await sink.insertTraces([traceRow({ trace_id: 'fb-1' })]);
    await sink.insertFeedback({ feedback_id: 'f1', trace_id: 'fb-1', ts_ms: Date.now(), score: 1, label: 'good', comment: 'nice' });
    await sink.insertFeedback({ feedback_id: 'f2', trace_id: 'fb-1', ts_ms: Date.now() + 1, score: 0, label: '', comment: '' });
    const feedback = await sink.listFeedback('fb-1');
    expect(feedback.map((f) => [f.feedback_id, f.score, f.label])).toEqual([['f1', 1, 'good'], ['f2', 0, '']]);
  });

  it('exports logged bodies by route, time and minimum score, paging in order', async () => {
    const base = 1_800_000_000_000;
    const rows = Array.from({ length: 7 }, (_, i) =>
      traceRow({ trace_id: `ex-${i}`, ts_ms: base + i, route: i < 5 ? 'export-me' : 'other', request_body: `{"i":${i}}`, response_body: '{}', status: i === 3 ? 500 : 200 }),
    );
    rows.push(traceRow({ trace_id: 'ex-nobody', ts_ms: base + 1, route: 'export-me' }));
    await sink.insertTraces(rows);
    const all = await sink.exportPage({ route: 'export-me', fromMs: base, toMs: base + 100 }, undefined, 2);
    expect(all.map((r) => r.trace_id)).toEqual(['ex-0', 'ex-1']);
    const next = await sink.exportPage({ route: 'export-me', fromMs: base, toMs: base + 100 }, { tsMs: base + 1, traceId: 'ex-1' }, 10);
    expect(next.map((r) => r.trace_id)).toEqual(['ex-2', 'ex-4']);
    await sink.insertFeedback({ feedback_id: 'ef1', trace_id: 'ex-2', ts_ms: base, score: 0.9, label: '', comment: '' });
    await sink.insertFeedback({ feedback_id: 'ef2', trace_id: 'ex-4', ts_ms: base, score: 0.1, label: '', comment: '' });
    const good = await sink.exportPage({ route: 'export-me', minScore: 0.5 }, undefined, 10);
    expect(good.map((r) => r.trace_id)).toEqual(['ex-2']);
  });

  it('retention removes rows older than the cutoff', async () => {
    const old = Date.parse('2020-01-01T00:00:00Z');
    await sink.insertTraces([traceRow({ trace_id: 'old-1', ts_ms: old }), traceRow({ trace_id: 'new-1' })]);
    await sink.dropOlderThan(Date.parse('2021-01-01T00:00:00Z'));
    expect(await sink.getTrace('old-1')).toBeUndefined();
    expect(await sink.getTrace('new-1')).toBeDefined();
  });
});

describe('npm run migrate', () => {
  it('applies the numbered migrations once, and is idempotent', async () => {
    for (let run = 0; run < 2; run++) {
      const { code, output } = await runGatewayToExit({ CLICKHOUSE_URL: clickhouse.url }, MIGRATE_JS);
      expect(output).toContain("database 'gateway'");
      expect(code).toBe(0);
    }
    const sink = new ClickHouseSink({ url: clickhouse.url, database: 'gateway', requestTimeoutMs: 5000 });
    const versions = await sink.select('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((v) => Number(v.version))).toEqual([1, 2, 3, 4, 5, 6]);
    const tables = await sink.select("SELECT name FROM system.tables WHERE database = 'gateway' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(['canary_events', 'feedback', 'requests', 'schema_migrations']);
    await sink.close();
  });
});

describe('schema upgrades keep old rows and add new columns', () => {
  it('DuckDB: a file written before client_request_id existed', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gateway-duck-old-')), 'traces.duckdb');
    const old = await DuckDBInstance.create(file);
    const connection = await old.connect();
    await connection.run(`CREATE TABLE requests (${OLD_DUCKDB_COLUMNS})`);
    await connection.run(`INSERT INTO requests VALUES ('old-1', ${Date.now()}, '', 'chat', 'chat', 'p', 'm', 'chat', '', 0, 200, '', 1, 1, NULL, 1, 0, 0, 'MISS', 1, 1, 0, NULL, '', [], [], '', '')`);
    connection.closeSync();
    old.closeSync();

    const sink = new DuckDbSink(file);
    await sink.init();
    try {
      expect(await sink.getTrace('old-1')).toMatchObject({ trace_id: 'old-1', client_request_id: '' });
      const row = traceRow({ trace_id: 'new-1', client_request_id: 'mine' });
      await sink.insertTraces([row]);
      await sink.insertTraces([row, traceRow({ trace_id: 'new-2', client_request_id: 'mine' })], true);
      expect(await sink.getTrace('new-1')).toEqual(row);
      expect((await sink.getTrace('new-2'))?.client_request_id).toBe('mine');
      // A row an older version spooled, without the columns added since, is stored with their defaults.
      await sink.insertTraces([{ ...traceRow({ trace_id: 'spooled-old' }), client_request_id: undefined, ...NO_REPLICA_COLUMNS } as unknown as TraceRow], true);
      expect(await sink.getTrace('spooled-old')).toMatchObject({ client_request_id: '', replica: '', replica_reason: '', replica_score: 0, prefix_match_chars: 0, queue_ms: 0 });
      expect(Number((await sink.select("SELECT count(*) AS n FROM requests WHERE trace_id = 'spooled-old' AND replica = '' AND client_request_id = ''"))[0]?.n)).toBe(1);
    } finally {
      await sink.close();
    }
  });

  it('ClickHouse: migration 0004 on a database at version 3, and again when its record is lost', async () => {
    const { sink, client, all, applied } = await databaseAt(3, 'upgrade');
    try {
      expect(applied).toEqual([1, 2, 3]);
      await client.insert({ table: 'requests', values: [{ ...traceRow({ trace_id: 'old-1' }), client_request_id: undefined, ...NO_REPLICA_COLUMNS, ...NO_POLICY_COLUMNS }], format: 'JSONEachRow' });

      await sink.init();
      expect(await sink.getTrace('old-1')).toMatchObject({ trace_id: 'old-1', client_request_id: '' });
      const row = traceRow({ trace_id: 'new-1', client_request_id: 'mine' });
      await sink.insertTraces([row]);
      expect(await sink.getTrace('new-1')).toEqual(row);

      // Idempotent: the statement runs cleanly even when schema_migrations does not know it ran.
      const again = all.filter((m) => m.version === 4).map((m) => ({ ...m, version: 1004 }));
      expect(await migrate(client, again)).toEqual([1004]);
    } finally {
      await client.close();
      await sink.close();
    }
  });

  it('ClickHouse: migration 0006 (policy columns) on a database at version 5, and again when its record is lost', async () => {
    const { sink, client, all, applied } = await databaseAt(5, 'upgrade_policy');
    try {
      expect(applied).toEqual([1, 2, 3, 4, 5]);
      await client.insert({ table: 'requests', values: [{ ...traceRow({ trace_id: 'old-1' }), ...NO_POLICY_COLUMNS }], format: 'JSONEachRow' });

      await sink.init();
      expect(await sink.getTrace('old-1')).toMatchObject({ trace_id: 'old-1', branch: '', guardrail_names: [], guardrail_verdicts: [], guardrail_trips: 0 });
      const row = traceRow({ trace_id: 'new-1', branch: 'b', guardrail_names: ['g'], guardrail_stages: ['output'], guardrail_verdicts: ['deny'], guardrail_findings: ['email:1'], guardrail_trips: 1 });
      await sink.insertTraces([row]);
      expect(await sink.getTrace('new-1')).toEqual(row);

      const again = all.filter((m) => m.version === 6).map((m) => ({ ...m, version: 1006 }));
      expect(await migrate(client, again)).toEqual([1006]);
    } finally {
      await client.close();
      await sink.close();
    }
  });
});

/** A fresh ClickHouse database migrated up to `version`, a client on it, and a sink not opened yet. */
async function databaseAt(version: number, prefix: string) {
  const database = `${prefix}_${Date.now()}`;
  const admin = createClient({ url: clickhouse.url });
  await admin.command({ query: `CREATE DATABASE ${database}` });
  await admin.close();
  const client = createClient({ url: clickhouse.url, database });
  const sink = new ClickHouseSink({ url: clickhouse.url, database, requestTimeoutMs: 5000 });
  const all = loadMigrations();
  return { sink, client, all, applied: await migrate(client, all.filter((m) => m.version <= version)) };
}

/** A row as written before migration 0005: JSONEachRow leaves out undefined fields. */
const NO_REPLICA_COLUMNS = { replica: undefined, replica_reason: undefined, replica_score: undefined, prefix_match_chars: undefined, queue_ms: undefined };
/** A row as written before migration 0006. */
const NO_POLICY_COLUMNS = { branch: undefined, guardrail_names: undefined, guardrail_stages: undefined, guardrail_verdicts: undefined, guardrail_findings: undefined, guardrail_trips: undefined };

describe('migration 0005 (replica columns) on ClickHouse 18.16', () => {
  it('adds the replica columns to a database at version 4, keeps old rows readable, and runs again cleanly', async () => {
    const { sink, client, all, applied } = await databaseAt(4, 'replicas');
    try {
      expect(applied).toEqual([1, 2, 3, 4]);
      await client.insert({ table: 'requests', values: [{ ...traceRow({ trace_id: 'before-pools' }), ...NO_REPLICA_COLUMNS, ...NO_POLICY_COLUMNS }], format: 'JSONEachRow' });

      await sink.init();
      expect(await sink.getTrace('before-pools')).toMatchObject({ replica: '', replica_reason: '', replica_score: 0, prefix_match_chars: 0, queue_ms: 0 });
      const row = traceRow({ trace_id: 'pooled', replica: '10.0.0.7:8000', replica_reason: 'prefix', replica_score: 2.5, prefix_match_chars: 4096, queue_ms: 12.5 });
      await sink.insertTraces([row]);
      expect(await sink.getTrace('pooled')).toEqual(row);

      const again = all.filter((m) => m.version === 5).map((m) => ({ ...m, version: 1005 }));
      expect(await migrate(client, again)).toEqual([1005]);
    } finally {
      await client.close();
      await sink.close();
    }
  });
});

/** The requests table as the first release created it (DuckDB). */
const OLD_DUCKDB_COLUMNS = `
    trace_id VARCHAR, ts_ms BIGINT, key_id VARCHAR, route VARCHAR, operation VARCHAR, provider VARCHAR,
    model VARCHAR, requested_model VARCHAR, variant VARCHAR, stream INTEGER, status INTEGER, error_code VARCHAR,
    latency_ms DOUBLE, upstream_ms DOUBLE, ttft_ms DOUBLE, attempts INTEGER, retries INTEGER, fallbacks INTEGER,
    cache VARCHAR, input_tokens BIGINT, output_tokens BIGINT, usage_estimated INTEGER, cost_usd DOUBLE, "user" VARCHAR,
    metadata_keys VARCHAR[], metadata_values VARCHAR[], request_body VARCHAR, response_body VARCHAR`;
