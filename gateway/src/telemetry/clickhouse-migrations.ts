/**
 * ClickHouse schema migrations: numbered, idempotent SQL files in clickhouse/ (NNNN_name.sql), applied in
 * order, each recorded in a version table. Run at start, or by `npm run migrate`.
 *
 * A statement that has no IF NOT EXISTS form on ClickHouse 18.16 (ADD COLUMN) carries a
 * `-- skip-if: <query>` line: when that query's first value is non-zero the change is already there and
 * the statement is skipped. The check runs again after a failure, so two replicas migrating at once do
 * not fail each other.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const SKIP_IF = /^\s*--\s*skip-if:\s*(.+)$/m;

/** The clickhouse/ folder, found by walking up from this module (it sits at the package root). */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'clickhouse');
    if (existsSync(join(candidate, '0001_requests.sql'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('clickhouse/ migrations folder not found');
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql: readFileSync(join(dir, file), 'utf8') }));
}

/** Applies every migration not yet recorded; returns the versions applied now. */
export async function migrate(client: ClickHouseClient, migrations = loadMigrations()): Promise<number[]> {
  await client.command({
    query: 'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_ms UInt64) ENGINE = TinyLog',
  });
  const result = await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' });
  const applied = new Set((await result.json<{ version: number | string }>()).map((row) => Number(row.version)));
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    const statement = migration.sql.replace(/^\s*--.*$/gm, '').trim().replace(/;\s*$/, '');
    const skipIf = SKIP_IF.exec(migration.sql)?.[1]?.trim();
    if (!skipIf || !(await alreadyThere(client, skipIf))) {
      try {
        await client.command({ query: statement });
      } catch (error) {
        if (!skipIf || !(await alreadyThere(client, skipIf))) throw error;
      }
    }
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name, applied_ms: Date.now() }],
      format: 'JSONEachRow',
    });
    done.push(migration.version);
  }
  return done;
}

async function alreadyThere(client: ClickHouseClient, query: string): Promise<boolean> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  const [row] = await result.json<Record<string, unknown>>();
  return row !== undefined && Number(Object.values(row)[0]) > 0;
}
