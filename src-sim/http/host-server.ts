import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { exchangeFromHead, exchangeFromRequest, type HttpExchange } from './exchange.js';
import type { HostContext } from './host-context.js';
import { respond, respondAndClose } from './raw-response.js';
import { readRequestHead } from './request-head.js';
import { handleRpcRequest } from './rpc-http.js';
import { route, type DataHandler } from './routes.js';

export interface TlsMaterial {
  key: string;
  cert: string;
}

/**
 * One host's listener (HTTPS or plain HTTP). Each connection's first request head is read here: RPC goes
 * to Node's HTTP server (keep-alive and all), data-path requests are answered on the raw socket so status
 * lines, headers and connection-delimited bodies are exactly a real host's. Data-path requests arriving on
 * a kept-alive RPC connection are taken over from the HTTP server the same way.
 */
export class HostServer {
  private readonly http: HttpServer;
  private readonly listener: NetServer | TlsServer;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly ctx: HostContext,
    tls: TlsMaterial | undefined,
  ) {
    this.http = createHttpServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 }, (req, res) =>
      this.onRequest(req, res),
    );
    const onSocket = (socket: Socket): void => void this.onSocket(socket);
    // Half-open: a client may end its upload (no Content-Length) and still read the answer.
    this.listener = tls
      ? createTlsServer({ ...tls, allowHalfOpen: true }, onSocket)
      : createNetServer({ allowHalfOpen: true }, onSocket);
    this.listener.on('tlsClientError', () => undefined);
    // Tracked at the TCP level, so that close() also ends connections still in their TLS handshake.
    this.listener.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
    });
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(port, host, () => resolve());
    });
    return (this.listener.address() as AddressInfo).port;
  }

  /** Serves a new certificate to new connections (control API rotateCertificate). */
  setCertificate(tls: TlsMaterial): void {
    if (!('setSecureContext' in this.listener)) throw new Error('this host serves plain HTTP: it has no certificate');
    this.listener.setSecureContext(tls);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.http.closeAllConnections();
    await closed;
  }

  private async onSocket(socket: Socket): Promise<void> {
    socket.on('error', () => undefined);
    const read = await readRequestHead(socket);
    if (!read) return void socket.destroy();
    if (!read.head) return respondAndClose(socket, 'HTTP/1.1 400 Bad Request');
    const { head } = read;
    const target = route(head.method, new URL(head.target, 'http://host').pathname);
    if (target.kind === 'rpc') {
      // Hand the connection, with the bytes already read, to the HTTP server.
      socket.unshift(read.raw);
      this.http.emit('connection', socket);
      socket.resume();
      return;
    }
    if (target.kind === 'forbidden') return respond.forbidden(socket);
    await this.runData(target.handler, exchangeFromHead(head, socket, read.rest));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const target = route(req.method ?? 'GET', path);
    if (target.kind === 'rpc') {
      handleRpcRequest(this.ctx, req, res, path).catch(() => req.socket.destroy());
      return;
    }
    // Taken over: the response is written raw on the socket, and the connection ends with it.
    res.detachSocket(req.socket);
    if (target.kind === 'forbidden') return respond.forbidden(req.socket);
    void this.runData(target.handler, exchangeFromRequest(req));
  }

  private async runData(handler: DataHandler, ex: HttpExchange): Promise<void> {
    try {
      await handler(this.ctx, ex);
    } catch {
      // Handlers report failures in their task; anything left is a bug shown to the client as a cut stream.
      ex.socket.destroy();
    }
  }
}
