/**
 * `npm run migrate`: applies the ClickHouse migrations in clickhouse/ to the configured database and
 * exits (the gateway also applies them at start). Uses the same config as the gateway.
 */
import { loadConfig } from './config/load.js';
import { ConfigError } from './config/problems.js';
import { ClickHouseSink } from './telemetry/clickhouse-sink.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const { url, database, username, password, timeoutMs } = config.telemetry.clickhouse;
  if (!url) {
    process.stderr.write('no ClickHouse configured: set CLICKHOUSE_URL or telemetry.clickhouse.url\n');
    process.exit(2);
  }
  const sink = new ClickHouseSink({ url, database, username, password, requestTimeoutMs: timeoutMs });
  await sink.init();
  await sink.close();
  process.stdout.write(`ClickHouse schema is current in database '${database}'\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `migration failed: ${String(error)}`}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
