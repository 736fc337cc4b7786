import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventName } from '../../src-shared/contract/index.js';
import { isEventName } from '../../src-shared/contract/names.js';
import { clientMessageSchema, TOKEN_PARAM, WS_PATH, type ServerMessage } from '../../src-shared/contract/wire.js';
import type { EventBus } from '../ipc/event-bus.js';
import type { IpcDispatcher } from '../ipc/ipc-dispatcher.js';
import { contentSecurityPolicy, serveStatic } from './static-files.js';

export interface BrowserServerOptions {
  dispatcher: IpcDispatcher;
  bus: EventBus;
  staticDir: string;
  port?: number;
  /** Fixed token for tests; by default a fresh random one per start. */
  token?: string;
  log?: (line: string) => void;
}

export interface BrowserServer {
  url: string;
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 1024 * 1024;

function sameToken(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Browser mode: the engine serves the built UI and the IPC contract over a WebSocket on 127.0.0.1 only.
 * A connection needs this start's random token and our own Origin; the Host header is checked too, so a
 * web page elsewhere (or DNS rebinding) cannot drive the engine.
 */
export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let origin = '';
  let allowedHosts = new Set<string>();
  // The UI's own origins, exactly: scheme, host and port. A prefix test or a missing scheme lets in pages
  // that are not ours (`127.0.0.1:PORT` alone is no origin a browser sends).
  let allowedOrigins = new Set<string>();

  server.on('request', (req, res) => {
    if (!allowedHosts.has(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden host');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    void serveStatic(
      opts.staticDir,
      req.url ?? '/',
      res,
      contentSecurityPolicy(`'self' ws://${req.headers.host}`),
    ).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  server.on('upgrade', (req, socket, head) => {
    // A peer that resets the connection mid-handshake must not take the engine down with it.
    socket.on('error', (err) => opts.log?.(`a WebSocket connection failed before it opened: ${err.message}`));
    const refuse = (status: number, reason: string) => {
      opts.log?.(`refused a WebSocket connection: ${reason}`);
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== WS_PATH) return refuse(404, 'Not Found');
    if (!allowedHosts.has(req.headers.host ?? '')) return refuse(403, 'Forbidden Host');
    const reqOrigin = req.headers.origin;
    if (reqOrigin === undefined) return refuse(403, 'Missing Origin');
    if (!allowedOrigins.has(reqOrigin)) return refuse(403, 'Forbidden Origin');
    const given = url.searchParams.get(TOKEN_PARAM) ?? '';
    if (!sameToken(given, token)) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws));
  });

  function serveConnection(ws: WebSocket): void {
    const subscribed = new Set<EventName>();
    const send = (msg: ServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const off = opts.bus.onAny((event, payload) => {
      if (subscribed.has(event)) send({ type: 'event', event, payload });
    });
    ws.on('close', off);
    // ws reports a protocol violation (an oversized, unmasked or malformed frame) as an 'error' event and
    // then closes the connection with the matching code. Without a listener Node throws it, and one bad frame
    // from one client would end the engine and every backup it runs. The connection alone is dropped.
    ws.on('error', (err) => {
      opts.log?.(`dropped a WebSocket connection: ${err.message}`);
      ws.terminate();
    });
    ws.on('message', (data, isBinary) => {
      let raw: unknown;
      try {
        if (isBinary) throw new Error('binary frame');
        raw = JSON.parse(data.toString());
      } catch {
        send({
          type: 'result',
          id: null,
          result: {
            ok: false,
            error: {
              code: 'VALIDATION',
              message: 'The message was not JSON text.',
              hint: 'Send the IPC frames of src-shared/contract/wire.ts.',
            },
          },
        });
        return;
      }
      const parsed = clientMessageSchema.safeParse(raw);
      if (!parsed.success) {
        const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : null;
        send({
          type: 'result',
          id,
          result: {
            ok: false,
            error: {
              code: 'VALIDATION',
              message: `Malformed IPC frame: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`).join('; ')}`,
              hint: 'Send the IPC frames of src-shared/contract/wire.ts.',
            },
          },
        });
        return;
      }
      const msg = parsed.data;
      if (msg.type === 'invoke') {
        void opts.dispatcher
          .dispatch(msg.channel, msg.payload)
          .then((result) => send({ type: 'result', id: msg.id, result }));
        return;
      }
      if (!isEventName(msg.event)) {
        send({
          type: 'result',
          id: null,
          result: {
            ok: false,
            error: {
              code: 'UNKNOWN_CHANNEL',
              message: `The engine has no event named "${msg.event.slice(0, 100)}".`,
              hint: 'Restart Sluice: the UI and the engine are probably different versions.',
            },
          },
        });
        return;
      }
      if (msg.type === 'subscribe') subscribed.add(msg.event);
      else subscribed.delete(msg.event);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`));

  return {
    url: `${origin}/?${TOKEN_PARAM}=${token}`,
    origin,
    token,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
