// Types for the parts of xen-api (Xen Orchestra's XAPI client, ISC; ships no declarations) the conformance
// suite drives. Shapes as read in node_modules/xen-api/index.mjs 4.7.7.
declare module 'xen-api' {
  import type { Readable } from 'node:stream';

  /** A cached record: the XAPI fields plus $id (uuid), $ref and $type; frozen. */
  export interface XapiObject {
    readonly $id: string;
    readonly $ref: string;
    readonly $type: string;
    readonly [field: string]: unknown;
  }

  export interface XapiOptions {
    url: string;
    auth: { user: string; password: string };
    allowUnauthorized?: boolean;
    /** Wait after a failed event.from before the next one (ms; default 60 s). */
    eventPollDelay?: number;
    /** Pause between two event.from calls (ms; default 200). */
    debounce?: number;
    watchEvents?: boolean | string[];
  }

  export interface ResourceOptions {
    query?: Record<string, string>;
    /** true (default while watching events): a task is created for the transfer and its result awaited. */
    task?: boolean | string;
  }

  export interface ResourceResponse {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: Readable & { arrayBuffer(): Promise<ArrayBuffer> };
    task?: Promise<unknown>;
  }

  export class Xapi {
    constructor(opts: XapiOptions);
    readonly status: 'connected' | 'connecting' | 'disconnected';
    readonly pool: XapiObject;
    readonly objectsFetched: Promise<void>;
    readonly objects: { readonly all: Record<string, XapiObject> };
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    callAsync<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    getObjectByRef<D = never>(ref: string, defaultValue?: D): XapiObject | D;
    watchTask<T = unknown>(ref: string): Promise<T>;
    createTask(label: string, description?: string): Promise<string>;
    getResource(path: string, opts?: ResourceOptions): Promise<ResourceResponse>;
    putResource(body: Buffer | Readable, path: string, opts?: ResourceOptions): Promise<unknown>;
  }
}
