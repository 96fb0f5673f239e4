/**
 * Serves the dashboard: dashboard/index.html at /dashboard and its assets (the app, the stylesheet and
 * uPlot, vendored from node_modules so it works with no internet) under /dashboard/assets/. Files are read
 * once at start; assets are cached by ETag. When an admin key is required, /dashboard answers the login
 * page until the browser has exchanged the key for a session cookie (POST /dashboard/session); /api
 * accepts that cookie or the key itself.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AccessControl } from '../auth/access-control.js';
import { SESSION_COOKIE } from '../auth/dashboard-session.js';
import { GatewayError } from '../errors.js';

/** No inline script or style anywhere: the page's code and styles come from these same-origin files. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function dashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'dashboard', 'index.html'))) return join(dir, 'dashboard');
    dir = dirname(dir);
  }
  throw new Error('dashboard/ folder not found');
}

function asset(path: string, type: string): Asset {
  const body = readFileSync(path);
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

export function registerDashboardRoute(app: FastifyInstance, access: AccessControl): void {
  const dir = dashboardDir();
  const require = createRequire(import.meta.url);
  const page = asset(join(dir, 'index.html'), 'text/html; charset=utf-8');
  const login = asset(join(dir, 'login.html'), 'text/html; charset=utf-8');
  const assets = new Map<string, Asset>([
    ['app.js', asset(join(dir, 'app.js'), 'text/javascript; charset=utf-8')],
    ['login.js', asset(join(dir, 'login.js'), 'text/javascript; charset=utf-8')],
    ['style.css', asset(join(dir, 'style.css'), 'text/css; charset=utf-8')],
    ['uPlot.iife.min.js', asset(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['uPlot.min.css', asset(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
  const securityHeaders = {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };

  app.get('/dashboard', async (request, reply) => {
    let allowed = true;
    try {
      access.admin(request.headers);
    } catch {
      allowed = false;
    }
    reply.headers({ ...securityHeaders, 'cache-control': 'no-store', 'content-type': page.type });
    if (!allowed) reply.code(401);
    return allowed ? page.body : login.body;
  });

  app.post('/dashboard/session', async (request, reply) => {
    const key = (request.body as { key?: unknown } | undefined)?.key;
    const session = typeof key === 'string' && access.isAdminKey(key) ? access.startSession() : undefined;
    if (!session) throw new GatewayError('admin_key_required', 'that is not the admin key');
    // Secure only when the browser reached us over https (TLS here, or a proxy `server.trustProxy`
    // trusts saying so): a browser does not send a Secure cookie back over plain http, so localhost works.
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=${session.value}; Path=/; Max-Age=${session.maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`);
    reply.code(204);
    return undefined;
  });
  app.get<{ Params: { file: string } }>('/dashboard/assets/:file', async (request, reply) => {
    const found = assets.get(request.params.file);
    if (!found) throw new GatewayError('route_not_found', `no dashboard asset '${request.params.file}'`);
    reply.headers({ ...securityHeaders, 'cache-control': 'public, max-age=300, must-revalidate', etag: found.etag, 'content-type': found.type });
    if (request.headers['if-none-match'] === found.etag) return reply.code(304).send();
    return found.body;
  });
}
