import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { EventName } from '../../src-shared/contract/index.js';
import { isEventName } from '../../src-shared/contract/names.js';
import type { IpcError } from '../../src-shared/contract/errors.js';
import {
  clientMessageSchema,
  TOKEN_PARAM,
  WS_PATH,
  type ClientMessage,
  type ServerMessage,
} from '../../src-shared/contract/wire.js';
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

/** Who may talk to the engine, known once the server listens: its own Host headers and origins. */
interface Admission {
  origin: string;
  hosts: Set<string>;
  // The UI's own origins, exactly: scheme, host and port. A prefix test or a missing scheme lets in pages
  // that are not ours (`127.0.0.1:PORT` alone is no origin a browser sends).
  origins: Set<string>;
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
  const admission: Admission = { origin: '', hosts: new Set(), origins: new Set() };

  server.on('request', (req, res) => serveHttp(req, res, admission, opts.staticDir));

  server.on('upgrade', (req, socket, head) => {
    // A peer that resets the connection mid-handshake must not take the engine down with it.
    socket.on('error', (err) => opts.log?.(`a WebSocket connection failed before it opened: ${err.message}`));
    const refused = upgradeRefusal(req, admission, token);
    if (refused) {
      opts.log?.(`refused a WebSocket connection: ${refused.reason}`);
      socket.end(`HTTP/1.1 ${refused.status} ${refused.reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws, opts));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  admission.origin = `http://127.0.0.1:${port}`;
  admission.hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  admission.origins = new Set([...admission.hosts].map((h) => `http://${h}`));

  return {
    url: `${admission.origin}/?${TOKEN_PARAM}=${token}`,
    origin: admission.origin,
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

function serveHttp(req: http.IncomingMessage, res: http.ServerResponse, admission: Admission, staticDir: string) {
  if (!admission.hosts.has(req.headers.host ?? '')) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden host');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  void serveStatic(staticDir, req.url ?? '/', res, contentSecurityPolicy(`'self' ws://${req.headers.host}`)).catch(
    () => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    },
  );
}

/** Why a WebSocket upgrade is refused (the HTTP status and reason), or undefined for our own UI. */
function upgradeRefusal(
  req: http.IncomingMessage,
  admission: Admission,
  token: string,
): { status: number; reason: string } | undefined {
  const url = new URL(req.url ?? '/', admission.origin);
  if (url.pathname !== WS_PATH) return { status: 404, reason: 'Not Found' };
  if (!admission.hosts.has(req.headers.host ?? '')) return { status: 403, reason: 'Forbidden Host' };
  const reqOrigin = req.headers.origin;
  if (reqOrigin === undefined) return { status: 403, reason: 'Missing Origin' };
  if (!admission.origins.has(reqOrigin)) return { status: 403, reason: 'Forbidden Origin' };
  const given = url.searchParams.get(TOKEN_PARAM) ?? '';
  if (!sameToken(given, token)) return { status: 401, reason: 'Unauthorized' };
  return undefined;
}

function serveConnection(ws: WebSocket, opts: Pick<BrowserServerOptions, 'bus' | 'dispatcher' | 'log'>): void {
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
    const msg = parseFrame(data, isBinary, send);
    if (!msg) return;
    if (msg.type === 'invoke') {
      void opts.dispatcher
        .dispatch(msg.channel, msg.payload)
        .then((result) => send({ type: 'result', id: msg.id, result }));
      return;
    }
    if (!isEventName(msg.event)) {
      send(
        failed(null, {
          code: 'UNKNOWN_CHANNEL',
          message: `The engine has no event named "${msg.event.slice(0, 100)}".`,
          hint: 'Restart Sluice: the UI and the engine are probably different versions.',
        }),
      );
      return;
    }
    if (msg.type === 'subscribe') subscribed.add(msg.event);
    else subscribed.delete(msg.event);
  });
}

/** The client's frame, or undefined once the client has been told why it is not one. */
function parseFrame(data: RawData, isBinary: boolean, send: (msg: ServerMessage) => void): ClientMessage | undefined {
  let raw: unknown;
  try {
    if (isBinary) throw new Error('binary frame');
    raw = JSON.parse(data.toString());
  } catch {
    send(
      failed(null, {
        code: 'VALIDATION',
        message: 'The message was not JSON text.',
        hint: 'Send the IPC frames of src-shared/contract/wire.ts.',
      }),
    );
    return undefined;
  }
  const parsed = clientMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : null;
    send(
      failed(id, {
        code: 'VALIDATION',
        message: `Malformed IPC frame: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`).join('; ')}`,
        hint: 'Send the IPC frames of src-shared/contract/wire.ts.',
      }),
    );
    return undefined;
  }
  return parsed.data;
}

function failed(id: number | null, error: IpcError): ServerMessage {
  return { type: 'result', id, result: { ok: false, error } };
}
