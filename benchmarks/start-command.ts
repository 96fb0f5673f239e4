/**
 * The gateway's command line as users run it: `npm start`'s script in package.json (Node's options, then
 * the entry point). Benchmarks start the gateway with exactly these arguments, so what they measure is
 * what `npm start` and the container image (whose CMD a test keeps equal to it) run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function startArguments(root: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = scripts.start.trim().split(/\s+/);
  if (command !== 'node' || !args.at(-1)?.endsWith('.js')) throw new Error(`unexpected start script: ${scripts.start}`);
  return args;
}
