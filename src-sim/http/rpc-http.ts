import type { IncomingMessage, ServerResponse } from 'node:http';
import { dispatch } from '../rpc/dispatcher.js';
import { handleJsonRpc } from '../rpc/jsonrpc-endpoint.js';
import { handleXmlRpc } from '../rpc/xmlrpc-endpoint.js';
import type { HostContext } from './host-context.js';

/** Larger bodies are not RPC (a POST /import carrying an XVA): they are refused without reading further. */
const MAX_RPC_BODY = 16 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RPC_BODY) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** POST /jsonrpc, POST / and /RPC2 (XML-RPC). Also POST /import, which a real host hands to its RPC parser. */
export async function handleRpcRequest(
  ctx: HostContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const json = path === '/jsonrpc';
  const body = await readBody(req);
  const call = (method: string, params: unknown[]) => dispatch(ctx.api, ctx.state, ctx.role, method, params);
  const answer =
    body === undefined
      ? await handleXmlRpc('', call)
      : json
        ? await handleJsonRpc(body, call)
        : await handleXmlRpc(body, call);
  res.writeHead(200, {
    'content-type': json ? 'application/json' : 'text/xml',
    'content-length': Buffer.byteLength(answer),
    'cache-control': 'no-cache, no-store',
    ...(body === undefined ? { connection: 'close' } : {}),
  });
  res.end(answer);
  if (body === undefined) res.once('finish', () => req.socket.destroy());
}
