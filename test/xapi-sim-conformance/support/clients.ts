// Test-only clients for the simulator: just enough JSON-RPC, XML-RPC and raw HTTP to check what goes over
// the wire. They are deliberately independent of the product's XAPI client.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Agent, fetch } from 'undici';
import { decodeMethodResponse, encodeMethodCall } from '../../../src-sim/formats/xmlrpc-message.js';

export const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

export interface JsonRpcReply {
  result?: unknown;
  error?: unknown;
  id?: unknown;
  jsonrpc?: string;
}

export async function jsonRpc(
  url: string,
  method: string,
  params: unknown[],
  version: 1 | 2 = 2,
): Promise<JsonRpcReply> {
  const body = version === 2 ? { jsonrpc: '2.0', method, params, id: 7 } : { method, params, id: 7 };
  const response = await fetch(`${url}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    dispatcher: insecureAgent,
  });
  return (await response.json()) as JsonRpcReply;
}

/** The result of a JSON-RPC v2 call, or a thrown Error whose message is "CODE param,param". */
export async function call<T = unknown>(url: string, method: string, ...params: unknown[]): Promise<T> {
  const reply = await jsonRpc(url, method, params);
  if (reply.error) {
    const e = reply.error as { message: string; data: string[] };
    throw new XapiFailure(e.message, e.data);
  }
  return reply.result as T;
}

export class XapiFailure extends Error {
  constructor(
    readonly code: string,
    readonly params: string[],
  ) {
    super(`${code} ${params.join(',')}`);
  }
}

export async function xmlRpc(
  url: string,
  method: string,
  params: unknown[],
  path = '/',
): Promise<{ xml: string; value: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    body: encodeMethodCall(method, params),
    headers: { 'content-type': 'text/xml' },
    dispatcher: insecureAgent,
  });
  const xml = await response.text();
  const decoded = decodeMethodResponse(xml);
  if (!('value' in decoded)) throw new Error(`XML-RPC fault: ${JSON.stringify(decoded.fault)}`);
  return { xml, value: decoded.value as Record<string, unknown> };
}

export async function login(url: string, username: string, password: string): Promise<string> {
  return call<string>(url, 'session.login_with_password', username, password, '1.1', 'conformance');
}

/** Polls a task until it leaves pending; returns its record. */
export async function waitTask(
  url: string,
  session: string,
  task: string,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await call<Record<string, unknown>>(url, 'task.get_record', session, task);
    if (record['status'] !== 'pending' && record['status'] !== 'cancelling') return record;
    if (Date.now() > deadline) throw new Error(`task ${task} still ${String(record['status'])}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A raw connection to a host (TLS without verification when the URL is https). */
export function openSocket(url: string): Promise<Socket> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket =
      protocol === 'https:'
        ? tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => resolve(socket))
        : netConnect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

export interface RawResponse {
  statusLine: string;
  /** Header lines exactly as sent. */
  headerLines: string[];
  headers: Record<string, string>;
  /** Body bytes received with the head. */
  rest: Buffer;
  socket: Socket;
}

/** Sends a raw request and reads the response head off the socket (the body stays on the socket). */
export async function rawRequest(url: string, head: string, body?: Buffer): Promise<RawResponse> {
  const socket = await openSocket(url);
  const { host } = new URL(url);
  socket.write(`${head.replace('{host}', host)}\r\n\r\n`);
  if (body) socket.write(body);
  return readResponseHead(socket);
}

export function readResponseHead(socket: Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const [statusLine, ...headerLines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines)
        headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ statusLine: statusLine!, headerLines, headers, rest: buffered.subarray(end + 4), socket });
    };
    const onEnd = (): void => reject(new Error(`connection closed before a response head (${buffered.length} bytes)`));
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

/** Reads the rest of a body until the connection ends (or fails); returns what came and how it ended. */
export function readToEnd(response: RawResponse): Promise<{ body: Buffer; cleanEnd: boolean }> {
  const parts = [response.rest];
  return new Promise((resolve) => {
    response.socket.on('data', (chunk: Buffer) => parts.push(chunk));
    response.socket.once('end', () => resolve({ body: Buffer.concat(parts), cleanEnd: true }));
    response.socket.once('error', () => resolve({ body: Buffer.concat(parts), cleanEnd: false }));
    response.socket.once('close', () => resolve({ body: Buffer.concat(parts), cleanEnd: false }));
    response.socket.resume();
  });
}

export const MiB = 1024 * 1024;
