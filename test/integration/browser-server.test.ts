import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNodeEngine } from '../../src-main/engine/engine-node.js';
import { startBrowserServer, type BrowserServer } from '../../src-main/server/browser-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';

let server: BrowserServer;
let cleanup: () => void;
let engine: ReturnType<typeof createNodeEngine>;

beforeAll(async () => {
  const t = makeTempDir();
  cleanup = t.cleanup;
  engine = createNodeEngine({ dataDir: t.dir, transport: 'websocket' });
  server = await startBrowserServer({ dispatcher: engine.dispatcher, bus: engine.ctx.bus, staticDir: t.dir });
});
afterAll(async () => {
  await server.close();
  cleanup();
});

function wsUrl(token: string | null) {
  return `ws://127.0.0.1:${server.port}/ipc${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
}

/** Resolves with the HTTP status of a refused upgrade, or 101 when accepted. */
function tryConnect(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

async function connect(): Promise<{ ws: WebSocket; call: (frame: unknown) => Promise<Record<string, unknown>>; events: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(wsUrl(server.token), { headers: { origin: server.origin } });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  const events: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.type === 'event') events.push(m);
    else waiting.shift()?.(m);
  });
  const call = (frame: unknown) =>
    new Promise<Record<string, unknown>>((resolve) => {
      waiting.push(resolve);
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    });
  return { ws, call, events };
}

describe('browser mode transport', () => {
  it('listens on 127.0.0.1 only and prints a URL with the token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
  });

  it('refuses a connection without the token, with a wrong token, from a foreign Origin or Host', async () => {
    expect(await tryConnect(wsUrl(null), { origin: server.origin })).toBe(401);
    expect(await tryConnect(wsUrl('wrong'), { origin: server.origin })).toBe(401);
    expect(await tryConnect(wsUrl(server.token.slice(0, -1) + 'x'), { origin: server.origin })).toBe(401);
    expect(await tryConnect(wsUrl(server.token), { origin: 'http://evil.example' })).toBe(403);
    expect(await tryConnect(wsUrl(server.token), {})).toBe(403);
    expect(await tryConnect(wsUrl(server.token), { origin: server.origin, host: `evil.example:${server.port}` })).toBe(403);
    expect(await tryConnect(wsUrl(server.token), { origin: server.origin })).toBe(101);
  });

  it('refuses the static UI to a foreign Host (DNS rebinding)', async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.port, path: '/', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    expect(await status('rebind.example')).toBe(403);
    // The right Host passes the check (the folder has no built UI, hence 503 with a message saying so).
    expect(await status(`127.0.0.1:${server.port}`)).toBe(503);
  });

  it('answers calls, malformed frames and unknown channels, and keeps serving', async () => {
    const { ws, call } = await connect();
    expect(await call({ type: 'invoke', id: 1, channel: 'app.ping', payload: { nonce: 'a' } })).toMatchObject({ id: 1, result: { ok: true, value: { nonce: 'a' } } });
    expect(await call('not json')).toMatchObject({ id: null, result: { ok: false, error: { code: 'VALIDATION' } } });
    expect(await call({ type: 'launch-missiles', id: 2 })).toMatchObject({ id: 2, result: { ok: false, error: { code: 'VALIDATION' } } });
    expect(await call({ type: 'invoke', id: 3, channel: 'nope', payload: {} })).toMatchObject({ id: 3, result: { ok: false, error: { code: 'UNKNOWN_CHANNEL' } } });
    expect(await call({ type: 'invoke', id: 4, channel: 'hosts.add', payload: { url: '', username: 5 } })).toMatchObject({ id: 4, result: { ok: false, error: { code: 'VALIDATION' } } });
    expect(await call({ type: 'subscribe', event: 'no.such.event' })).toMatchObject({ result: { ok: false, error: { code: 'UNKNOWN_CHANNEL' } } });
    expect(await call({ type: 'invoke', id: 5, channel: 'app.info', payload: {} })).toMatchObject({ id: 5, result: { ok: true, value: { name: 'Sluice', transport: 'websocket' } } });
    ws.close();
  });

  it('delivers subscribed events only', async () => {
    const { ws, call, events } = await connect();
    ws.send(JSON.stringify({ type: 'subscribe', event: 'settings.changed' }));
    await call({ type: 'invoke', id: 1, channel: 'remotes.add', payload: { name: 'r1', path: '/tmp/r1' } });
    engine.ctx.bus.emit('engine.log', { level: 'info', message: 'not subscribed', at: new Date().toISOString() });
    await call({ type: 'invoke', id: 2, channel: 'app.ping', payload: { nonce: 'sync' } });
    expect(events).toEqual([{ type: 'event', event: 'settings.changed', payload: { section: 'remotes' } }]);
    ws.send(JSON.stringify({ type: 'unsubscribe', event: 'settings.changed' }));
    await call({ type: 'invoke', id: 3, channel: 'remotes.add', payload: { name: 'r2', path: '/tmp/r2' } });
    expect(events).toHaveLength(1);
    ws.close();
  });
});
