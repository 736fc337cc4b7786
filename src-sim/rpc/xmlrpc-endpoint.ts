import { decodeMethodCall, encodeFault, encodeMethodResponse } from '../formats/xmlrpc-message.js';
import { asXapiError, type Call } from './jsonrpc-endpoint.js';
import { LIST_METHODS } from './system-methods.js';
import { toXmlRpcWire } from './wire.js';

/**
 * POST / and /RPC2. XAPI never uses XML-RPC faults for API errors: every answer is a struct with Status
 * "Success" and Value, or Status "Failure" and ErrorDescription [code, …params].
 */
export async function handleXmlRpc(body: string, call: Call): Promise<string> {
  let methodName: string;
  let params: unknown[];
  try {
    ({ methodName, params } = decodeMethodCall(body));
  } catch (error) {
    return encodeFault(-1, `XML-RPC parse error: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const value = toXmlRpcWire(await call(methodName, params));
    // api_server.ml: the introspection call answers the bare array, not the Status/Value struct.
    if (methodName === LIST_METHODS) return encodeMethodResponse(value);
    return encodeMethodResponse({ Status: 'Success', Value: value });
  } catch (error) {
    return encodeMethodResponse({ Status: 'Failure', ErrorDescription: asXapiError(error).description });
  }
}
