/**
 * Process entry point: load and validate config (exit non-zero listing every problem), build the app,
 * listen, and on SIGTERM/SIGINT drain: stop accepting, let in-flight requests finish within the grace
 * period, flush, exit 0 (1, logged, if something failed to close).
 */
import { buildApp } from './app.js';
import { loadConfig } from './config/load.js';
import { ConfigError, type ConfigProblem } from './config/problems.js';
import type { GatewayConfig } from './config/schema.js';

async function main(): Promise<void> {
  let config: GatewayConfig;
  const notices: ConfigProblem[] = [];
  try {
    config = loadConfig(process.env, notices);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const app = buildApp(config);
  for (const notice of notices) app.log.warn({ configPath: notice.path.map(String).join('.') }, notice.message);
  await app.listen({
    host: config.server.host,
    port: config.server.port,
    listenTextResolver: (address) => `gateway listening on ${address} (providers: ${Object.keys(config.providers).join(', ')})`,
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    app.readiness.draining = true;
    app.readiness.stopBy = Date.now() + config.server.shutdownGraceMs;
    app.log.info({ signal, graceMs: config.server.shutdownGraceMs }, 'draining');
    const force = setTimeout(() => {
      app.log.warn('grace period over; closing remaining connections');
      app.server.closeAllConnections();
    }, config.server.shutdownGraceMs);
    force.unref();
    let code = 0;
    try {
      await app.close();
    } catch (error) {
      // Something failed to close (nothing should): say so, and still end the process on purpose.
      code = 1;
      app.log.error({ err: error }, 'shutdown did not complete cleanly');
    } finally {
      clearTimeout(force);
    }
    app.log.info({ code }, 'stopped');
    // Logs go to stdout asynchronously: let the last lines out before exiting — but not wait for ever
    // on a stdout nobody reads.
    setTimeout(() => process.exit(code), 1000).unref();
    (app.log as unknown as { flush(cb: () => void): void }).flush(() => process.exit(code));
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
