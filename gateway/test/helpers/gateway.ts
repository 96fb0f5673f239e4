/** Starts a gateway app on an ephemeral loopback port for a test, from a config document. */
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps, type GatewayApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

export interface RunningGateway {
  app: GatewayApp;
  /** Base URL including /v1, ready for the OpenAI SDK. */
  baseURL: string;
  origin: string;
  close(): Promise<void>;
}

export async function startGateway(document: Record<string, unknown>, deps: AppDeps = {}): Promise<RunningGateway> {
  const config = validateConfig(
    {
      logging: { level: 'silent' },
      ...document,
      server: { port: 0, ...(document.server as object | undefined) },
      // Tests that look at traces name a sink; the rest keep no trace store.
      telemetry: { sink: 'none', logRequests: false, ...(document.telemetry as object | undefined) },
    },
    {},
    'test',
  );
  const app = buildApp(config, deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    app,
    origin,
    baseURL: `${origin}/v1`,
    close: async () => {
      const closing = app.close();
      // A client may hold a connection it never sent a request on; tests do not wait for it to time out.
      app.server.closeAllConnections();
      await closing;
    },
  };
}

/** Polls until `check` is true or the time runs out. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
