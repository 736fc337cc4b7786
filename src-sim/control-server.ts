import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { SimControl } from './control.js';
import { HOST_NAMES } from './fault-spec.js';
import { XapiError } from './model/xapi-error.js';

// The control API over HTTP, on its own loopback port so the hosts' ports stay faithful (403 for anything
// unknown). JSON in and out; errors are {error: message} with 400 (bad input) or 404 (unknown object).
// Documented in README.md.

const GuestWrite = z.object({ fraction: z.number().min(0).max(1), seed: z.number().int().optional() });
const Rotate = z.object({ host: z.enum(HOST_NAMES).optional() }).default({});
const PhysicalSize = z.object({ bytes: z.number().int().nonnegative() });
const PowerState = z.object({ powerState: z.enum(['Running', 'Halted']) });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) parts.push(chunk);
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, z.prettifyError(result.error));
  return result.data;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<unknown>;

export function startControlServer(
  control: SimControl,
  info: () => Record<string, unknown>,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/$/, async () => info()],
    ['GET', /^\/faults$/, async () => control.listFaults()],
    [
      'POST',
      /^\/faults$/,
      async (req) => {
        const body = await readJson(req);
        const list = Array.isArray(body) ? body : [body];
        try {
          return { ids: list.map((f) => control.addFault(f as never)) };
        } catch (error) {
          throw new HttpError(400, error instanceof Error ? error.message : String(error));
        }
      },
    ],
    [
      'DELETE',
      /^\/faults$/,
      async (req) => {
        const host = new URL(req.url ?? '/', 'http://x').searchParams.get('host');
        control.clearFaults(host ? parse(z.enum(HOST_NAMES), host) : undefined);
        return { cleared: true };
      },
    ],
    ['DELETE', /^\/faults\/(\d+)$/, async (_req, _res, [id]) => ({ removed: control.removeFault(Number(id)) })],
    [
      'POST',
      /^\/vms\/([^/]+)\/guest-write$/,
      async (req, _res, [uuid]) => {
        const { fraction, seed } = parse(GuestWrite, await readJson(req));
        return { vdis: control.guestWrite(uuid!, fraction, seed) };
      },
    ],
    [
      'POST',
      /^\/vms\/([^/]+)\/power-state$/,
      async (req, _res, [uuid]) => {
        control.setPowerState(uuid!, parse(PowerState, await readJson(req)).powerState);
        return { ok: true };
      },
    ],
    [
      'GET',
      /^\/vdis\/([^/]+)\/raw$/,
      async (_req, res, [uuid]) => {
        const stream = control.readVdiRaw(uuid!);
        const iterator = stream[Symbol.asyncIterator]();
        const first = await iterator.next();
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let step = first; !step.done; step = await iterator.next()) {
          if (!res.write(step.value)) await new Promise((resolve) => res.once('drain', resolve));
          if (res.destroyed) return undefined;
        }
        res.end();
        return undefined;
      },
    ],
    ['GET', /^\/vdis\/([^/]+)\/sha256$/, async (_req, _res, [uuid]) => ({ sha256: await control.hashVdi(uuid!) })],
    [
      'POST',
      /^\/rotate-certificate$/,
      async (req) => ({ fingerprint: await control.rotateCertificate(parse(Rotate, await readJson(req)).host) }),
    ],
    ['GET', /^\/stats$/, async () => control.stats()],
    ['POST', /^\/stats\/reset$/, async () => (control.resetStats(), { reset: true })],
    ['POST', /^\/sessions\/invalidate$/, async () => (control.invalidateSessions(), { invalidated: true })],
    [
      'POST',
      /^\/srs\/([^/]+)\/physical-size$/,
      async (req, _res, [uuid]) => {
        control.setSrPhysicalSize(uuid!, parse(PhysicalSize, await readJson(req)).bytes);
        return { ok: true };
      },
    ],
  ];

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const match = routes
      .map(([method, pattern, handler]) => ({ method, m: pattern.exec(path), handler }))
      .find((r) => r.m && r.method === req.method);
    if (!match?.m) return sendJson(res, 404, { error: `no control endpoint ${req.method} ${path}` });
    match
      .handler(req, res, match.m.slice(1).map(decodeURIComponent))
      .then((value) => {
        if (value !== undefined) sendJson(res, 200, value);
      })
      .catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : error instanceof XapiError ? 404 : 500;
        if (res.headersSent) return void res.destroy();
        sendJson(res, status, { error: error instanceof Error ? error.message : String(error) });
      });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${actual}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
