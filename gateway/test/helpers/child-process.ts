/** Stops a server process a test started, and waits until it is gone. */
import type { ChildProcess } from 'node:child_process';

export async function killAndWait(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exiting = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exiting;
}
