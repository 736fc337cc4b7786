import { request, type Dispatcher } from 'undici';
import { SluiceError } from '../errors/sluice-error.js';
import { describeNetworkError } from './host-unreachable.js';
import { XapiError } from './xapi-error.js';

let nextId = 1;

/**
 * One XAPI JSON-RPC v2 call. The host answers failures as {error: {message: CODE, data: [params]}}; we raise
 * them as XapiError with the host's code and parameters intact.
 */
export async function jsonRpcCall(
  baseUrl: string,
  dispatcher: Dispatcher,
  method: string,
  params: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  const id = nextId++;
  let res;
  try {
    res = await request(new URL('/jsonrpc', baseUrl), {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id }),
      signal,
    });
  } catch (err) {
    if (signal?.aborted)
      throw new SluiceError('CANCELLED', `Cancelled while calling ${method}.`, { context: { host: baseUrl } });
    throw describeNetworkError(new URL(baseUrl).host, err);
  }
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    throw new SluiceError('HOST_ERROR', `The host answered HTTP ${res.statusCode} to ${method}.`, {
      hint: 'Is this address an XCP-ng or XenServer host? Its API lives at /jsonrpc.',
      context: { host: baseUrl, call: method },
    });
  }
  let body: {
    result?: unknown;
    error?: { code?: number; message?: string; data?: unknown[] } | unknown[] | null;
    id?: unknown;
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw new SluiceError('HOST_ERROR', `The host sent an answer to ${method} that is not JSON.`, {
      hint: 'Is this address an XCP-ng or XenServer host?',
      context: { host: baseUrl, call: method },
    });
  }
  const err = body.error;
  if (err !== undefined && err !== null) {
    // v2: {code, message, data}; v1: [code, ...params].
    const [code, ...p] = Array.isArray(err)
      ? err.map(String)
      : [String(err.message ?? 'UNKNOWN'), ...(err.data ?? []).map(String)];
    throw new XapiError(code ?? 'UNKNOWN', p, { method, context: { host: new URL(baseUrl).host } });
  }
  return body.result;
}
