import type { HttpExchange } from './exchange.js';
import { handleRawVdiExport, handleVmExport } from './export-handlers.js';
import type { HostContext } from './host-context.js';
import { handleRawVdiImport, handleVmImport } from './import-handlers.js';

export type DataHandler = (ctx: HostContext, ex: HttpExchange) => Promise<void>;

export type Route = { kind: 'rpc' } | { kind: 'data'; handler: DataHandler } | { kind: 'forbidden' };

const RPC_PATHS = new Set(['/', '/RPC2', '/jsonrpc', '/import']);

const DATA: Record<string, DataHandler> = {
  'GET /export': (ctx, ex) => handleVmExport(ctx, ex, true),
  'GET /export_metadata': (ctx, ex) => handleVmExport(ctx, ex, false),
  'GET /export_raw_vdi': handleRawVdiExport,
  'PUT /import': handleVmImport,
  'PUT /import_raw_vdi': handleRawVdiImport,
};

/**
 * Only the RPC endpoints and these five handlers exist on a host; anything else is 403. A host finds a handler
 * by the longest registered prefix of the path (http_svr.ml, Radix_tree.longest_prefix), so `/import/` reaches
 * `/import`: Xen Orchestra sends the slashed forms. Other suffixes stay refused here, a stricter reading.
 */
export function route(method: string, path: string): Route {
  if (method === 'POST' && RPC_PATHS.has(path)) return { kind: 'rpc' };
  const handler = DATA[`${method} ${withoutTrailingSlash(path)}`];
  return handler ? { kind: 'data', handler } : { kind: 'forbidden' };
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
