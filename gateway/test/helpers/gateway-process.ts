/** Runs the compiled gateway (dist/main.js, as `npm start` does) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN_JS = fileURLToPath(new URL('../../../dist/main.js', import.meta.url));
export const MIGRATE_JS = fileURLToPath(new URL('../../../dist/migrate.js', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  /** Its working directory (the default config's ./data lives here). */
  cwd: string;
  origin: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the gateway and resolves once it logged where it listens. `nodeArgs` go before the script. */
export function startGatewayProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<GatewayProcess> {
  // A private working directory: the default config keeps its DuckDB file and spool in ./data.
  const cwd = mkdtempSync(join(tmpdir(), 'gateway-process-'));
  const child = spawn(process.execPath, [...nodeArgs, MAIN_JS], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 10_000);
    const onData = (data: Buffer): void => {
      output += data.toString();
      const match = /gateway listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, cwd, origin: match[1] as string, output: () => output, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output}`));
    });
  });
}

/** Runs the gateway expecting it to exit by itself; returns its exit code and everything it printed. */
export function runGatewayToExit(env: Record<string, string>, script = MAIN_JS): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}
