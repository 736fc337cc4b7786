import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNodeEngine } from '../../src-main/engine/engine-node.js';
import { channelNameList } from '../../src-shared/contract/names.js';
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

async function connect(): Promise<{
  ws: WebSocket;
  call: (frame: unknown) => Promise<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
}> {
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
    expect(await tryConnect(wsUrl(server.token), { origin: server.origin, host: `evil.example:${server.port}` })).toBe(
      403,
    );
    expect(await tryConnect(wsUrl(server.token), { origin: server.origin })).toBe(101);
  });

  it('refuses the static UI to a foreign Host (DNS rebinding)', async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: server.port, path: '/', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await status('rebind.example')).toBe(403);
    // The right Host passes the check (the folder has no built UI, hence 503 with a message saying so).
    expect(await status(`127.0.0.1:${server.port}`)).toBe(503);
  });

  it('answers calls, malformed frames and unknown channels, and keeps serving', async () => {
    const { ws, call } = await connect();
    expect(await call({ type: 'invoke', id: 1, channel: 'app.ping', payload: { nonce: 'a' } })).toMatchObject({
      id: 1,
      result: { ok: true, value: { nonce: 'a' } },
    });
    expect(await call('not json')).toMatchObject({ id: null, result: { ok: false, error: { code: 'VALIDATION' } } });
    expect(await call({ type: 'launch-missiles', id: 2 })).toMatchObject({
      id: 2,
      result: { ok: false, error: { code: 'VALIDATION' } },
    });
    expect(await call({ type: 'invoke', id: 3, channel: 'nope', payload: {} })).toMatchObject({
      id: 3,
      result: { ok: false, error: { code: 'UNKNOWN_CHANNEL' } },
    });
    expect(
      await call({ type: 'invoke', id: 4, channel: 'hosts.add', payload: { url: '', username: 5 } }),
    ).toMatchObject({ id: 4, result: { ok: false, error: { code: 'VALIDATION' } } });
    expect(await call({ type: 'subscribe', event: 'no.such.event' })).toMatchObject({
      result: { ok: false, error: { code: 'UNKNOWN_CHANNEL' } },
    });
    expect(await call({ type: 'invoke', id: 5, channel: 'app.info', payload: {} })).toMatchObject({
      id: 5,
      result: { ok: true, value: { name: 'Sluice', transport: 'websocket' } },
    });
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

  it('accepts only the exact origins of the app (scheme included)', async () => {
    const ok = wsUrl(server.token);
    expect(await tryConnect(ok, { origin: `127.0.0.1:${server.port}` })).toBe(403);
    expect(await tryConnect(ok, { origin: `localhost:${server.port}` })).toBe(403);
    expect(await tryConnect(ok, { origin: `https://127.0.0.1:${server.port}` })).toBe(403);
    expect(await tryConnect(ok, { origin: `http://127.0.0.1:${server.port}.evil.example` })).toBe(403);
    expect(await tryConnect(ok, { origin: `http://localhost:${server.port}` })).toBe(101);
  });

  it('drops a connection that sends a frame over 1 MiB, and keeps serving the others', async () => {
    const bystander = await connect();
    const { ws } = await connect();
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('error', () => {});
    ws.send('x'.repeat(1024 * 1024 + 1));
    expect(await closed).toBe(1009);
    expect(
      await bystander.call({ type: 'invoke', id: 1, channel: 'app.ping', payload: { nonce: 'still here' } }),
    ).toMatchObject({ result: { ok: true, value: { nonce: 'still here' } } });
    bystander.ws.close();
  });

  it('drops a connection that violates the WebSocket protocol (unmasked frame, bad opcode), and keeps serving', async () => {
    for (const frame of [
      Buffer.from([0x81, 0x02, 0x68, 0x69]), // a text frame "hi" without the client's mask
      Buffer.from([0x83, 0x80, 1, 2, 3, 4]), // reserved opcode 3, masked, empty
      Buffer.from([0xc1, 0x80, 1, 2, 3, 4]), // RSV1 set without an extension
    ]) {
      const sock = net.connect(server.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(
        `GET /ipc?token=${encodeURIComponent(server.token)} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nOrigin: ${server.origin}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      const ended = new Promise<string>((resolve) => {
        let got = '';
        sock.on('data', (d) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n') && !got.includes('sent')) {
            got += 'sent';
            sock.write(frame);
          }
        });
        sock.on('close', () => resolve(got));
        sock.on('error', () => {});
      });
      expect(await ended).toMatch(/^HTTP\/1\.1 101/);
    }
    const { ws, call } = await connect();
    expect(await call({ type: 'invoke', id: 1, channel: 'app.ping', payload: { nonce: 'alive' } })).toMatchObject({
      result: { ok: true },
    });
    ws.close();
  });

  it('survives 1,400 fuzzed frames over every channel with flat memory', async () => {
    // Deterministic junk: payloads of random shapes and keys (never `url`, so nothing reaches for a network
    // host), text that is not JSON, binary frames, frames of the wrong type, and some oversized ones.
    let seed = 1234567;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const keys = [
      'id',
      'name',
      'path',
      'vmUuid',
      'pointId',
      'remoteId',
      'jobId',
      'runId',
      'payload',
      'nonce',
      '__proto__',
      'constructor',
    ];
    const junk = (depth: number): unknown => {
      const r = rand();
      if (depth > 2 || r < 0.3)
        return pick([null, true, -1, 1e308, 'x'.repeat(Math.floor(rand() * 200)), '../../etc/passwd', '\u0000', 0]);
      if (r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => junk(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [pick(keys), junk(depth + 1)]));
    };
    const before = process.memoryUsage().rss;
    let sent = 0;
    while (sent < 1400) {
      const { ws, call } = await connect();
      ws.on('error', () => {});
      let alive = true;
      ws.on('close', () => (alive = false));
      for (let i = 0; i < 100 && alive; i++, sent++) {
        const kind = rand();
        if (kind < 0.7) {
          const reply = await call({ type: 'invoke', id: sent, channel: pick(channelNameList), payload: junk(0) });
          expect(reply).toMatchObject({ type: 'result' });
        } else if (kind < 0.8) {
          expect(await call(pick(['{', '[]', '{"type":"invoke"}', 'null', '"\\ud800"']))).toMatchObject({
            type: 'result',
          });
        } else if (kind < 0.9) {
          expect(
            await call({ type: pick(['subscribe', 'unsubscribe', 'invoke', 7]), event: junk(1), id: junk(1) }),
          ).toMatchObject({ type: 'result' });
        } else if (kind < 0.97) {
          ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
          expect(await call({ type: 'invoke', id: sent, channel: 'app.ping', payload: { nonce: 'n' } })).toBeDefined();
        } else {
          ws.send('y'.repeat(1024 * 1024 + 10));
          await new Promise((r) => ws.once('close', r));
        }
      }
      ws.close();
    }
    const { ws, call } = await connect();
    expect(await call({ type: 'invoke', id: 1, channel: 'app.ping', payload: { nonce: 'after fuzz' } })).toMatchObject({
      result: { ok: true, value: { nonce: 'after fuzz' } },
    });
    ws.close();
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });
});
