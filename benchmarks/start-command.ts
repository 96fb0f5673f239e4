/**
 * The gateway's command line as users run it: `npm start`'s script in package.json (environment
 * assignments for glibc's allocator, Node's options, then the entry point). Benchmarks start the gateway
 * with exactly these, so what they measure is what `npm start` and the container image (whose ENV and
 * CMD a test keeps equal to it) run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StartCommand {
  /** Variables the script sets before `node` (NAME=value). */
  env: Record<string, string>;
  /** Node's options and the entry point. */
  args: string[];
}

export function startCommand(root: string): StartCommand {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let assignment: RegExpExecArray | null;
  while ((assignment = /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(words[0] ?? ''))) {
    env[assignment[1]!] = assignment[2]!;
    words.shift();
  }
  const [command, ...args] = words;
  if (command !== 'node' || !args.at(-1)?.endsWith('.js')) throw new Error(`unexpected start script: ${scripts.start}`);
  return { env, args };
}
