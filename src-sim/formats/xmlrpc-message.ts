import { childElements, escapeXmlText, parseXml, textContent, type XmlElement } from './xml-tree.js';
import { decodeValueElement, encodeValue, XmlRpcDecodeError } from './xmlrpc-value.js';

// XML-RPC envelopes. XAPI reports failures inside a normal response ({Status: "Failure", …}), so faults are
// only for requests it cannot even parse.

const PROLOG = '<?xml version="1.0"?>';

export interface MethodCall {
  methodName: string;
  params: unknown[];
}

export function decodeMethodCall(xml: string): MethodCall {
  const root = parseXml(xml);
  if (root.name !== 'methodCall') throw new XmlRpcDecodeError(`expected <methodCall>, got <${root.name}>`);
  const name = childElements(root).find((e) => e.name === 'methodName');
  if (!name) throw new XmlRpcDecodeError('<methodCall> without <methodName>');
  return { methodName: textContent(name).trim(), params: decodeParams(root) };
}

export function encodeMethodCall(methodName: string, params: unknown[]): string {
  const encoded = params.map((p) => `<param>${encodeValue(p)}</param>`).join('');
  return `${PROLOG}<methodCall><methodName>${escapeXmlText(methodName)}</methodName><params>${encoded}</params></methodCall>`;
}

export function encodeMethodResponse(value: unknown): string {
  return `${PROLOG}<methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>`;
}

export function encodeFault(faultCode: number, faultString: string): string {
  return `${PROLOG}<methodResponse><fault>${encodeValue({ faultCode, faultString })}</fault></methodResponse>`;
}

export type MethodResponse = { value: unknown } | { fault: { faultCode: unknown; faultString: unknown } };

export function decodeMethodResponse(xml: string): MethodResponse {
  const root = parseXml(xml);
  if (root.name !== 'methodResponse') throw new XmlRpcDecodeError(`expected <methodResponse>, got <${root.name}>`);
  const fault = childElements(root).find((e) => e.name === 'fault');
  if (fault) {
    const value = childElements(fault).find((e) => e.name === 'value');
    const decoded = (value ? decodeValueElement(value) : {}) as Record<string, unknown>;
    return { fault: { faultCode: decoded.faultCode, faultString: decoded.faultString } };
  }
  const params = decodeParams(root);
  if (params.length !== 1) throw new XmlRpcDecodeError(`a response carries one value, got ${params.length}`);
  return { value: params[0] };
}

function decodeParams(root: XmlElement): unknown[] {
  const params = childElements(root).find((e) => e.name === 'params');
  if (!params) return [];
  return childElements(params).map((param) => {
    if (param.name !== 'param') throw new XmlRpcDecodeError(`<params> holds <${param.name}>`);
    const value = childElements(param).find((e) => e.name === 'value');
    if (!value) throw new XmlRpcDecodeError('<param> without <value>');
    return decodeValueElement(value);
  });
}
