/**
 * Starts a real ClickHouse server (Debian's clickhouse-server, installed by the test command) from a
 * private config: loopback only, free ports, its own data directory. Tests fail, never skip, when it is
 * missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { killAndWait } from './child-process.js';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClickHouseServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startClickHouseServer(): Promise<ClickHouseServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-clickhouse-'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'tmp'));
  const httpPort = await freePort();
  const tcpPort = await freePort();
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    let output = '';
    child = spawn('clickhouse-server', [`--config-file=${join(dir, 'config.xml')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const failed = new Promise<never>((_, reject) => {
      child!.once('error', (error) => reject(new Error(`clickhouse-server could not be started (npm test installs it): ${error.message}`)));
      child!.once('exit', (code) => reject(new Error(`clickhouse-server exited with ${code}:\n${output}`)));
    });
    failed.catch(() => undefined); // a later stop() kills the process on purpose
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await Promise.race([
        fetch(`${url}/ping`).then((r) => r.ok, () => false),
        failed,
      ]);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`clickhouse-server did not answer /ping:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async (): Promise<void> => {
    await killAndWait(child);
    child = undefined;
  };
  await start();
  return { url, stop, start };
}
