import type { XapiValue } from '../model/values.js';
import { XapiError } from '../model/xapi-error.js';
import { toJsonWire } from './wire.js';

export type Call = (method: string, params: unknown[]) => Promise<XapiValue>;

/**
 * POST /jsonrpc. v2 when the request carries "jsonrpc": "2.0" (failure in error.{code: 1, message, data}),
 * else v1 ({result, error: null | [code, …params], id}). `id` is required.
 */
export async function handleJsonRpc(body: string, call: Call): Promise<string> {
  let request: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    request = parsed as Record<string, unknown>;
  } catch {
    return JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error', data: [] }, id: null });
  }
  const v2 = request['jsonrpc'] === '2.0';
  const id = request['id'];
  if (id === undefined || typeof request['method'] !== 'string') {
    return JSON.stringify({
      jsonrpc: '2.0',
      error: { code: -32600, message: 'Invalid Request', data: [] },
      id: id ?? null,
    });
  }
  const params = Array.isArray(request['params']) ? (request['params'] as unknown[]) : [];
  try {
    const result = toJsonWire(await call(request['method'], params));
    return JSON.stringify(v2 ? { jsonrpc: '2.0', result, id } : { result, error: null, id });
  } catch (error) {
    const failure = asXapiError(error);
    return JSON.stringify(
      v2
        ? { jsonrpc: '2.0', error: { code: 1, message: failure.code, data: failure.params }, id }
        : { result: null, error: failure.description, id },
    );
  }
}

export function asXapiError(error: unknown): XapiError {
  if (error instanceof XapiError) return error;
  return new XapiError('INTERNAL_ERROR', [error instanceof Error ? error.message : String(error)]);
}
