import { createReadStream, promises as fs } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The same CSP the Electron window gets: the UI loads only its own files and talks only to its own origin. */
export function contentSecurityPolicy(connectSrc: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connectSrc}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** Serves the built UI; any path that is not a file gets index.html (the UI routes itself). */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse, csp: string): Promise<void> {
  const decoded = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  const resolved = path.resolve(root, '.' + path.posix.normalize(decoded));
  if (!resolved.startsWith(path.resolve(root))) {
    res.writeHead(403).end();
    return;
  }
  let file = resolved;
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat || stat.isDirectory()) file = path.join(root, 'index.html');
  const exists = await fs.stat(file).catch(() => undefined);
  if (!exists) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('The Sluice UI has not been built. Run: npm run build:renderer');
    return;
  }
  res.writeHead(200, {
    'content-type': types[path.extname(file)] ?? 'application/octet-stream',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  createReadStream(file).pipe(res);
}
