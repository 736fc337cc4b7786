import type { Agent } from 'undici';
import { SluiceError } from '../errors/sluice-error.js';
import { jsonRpcCall } from './json-rpc.js';
import { createPinnedAgent, normaliseFingerprint } from './tls-pinning.js';
import { XapiError } from './xapi-error.js';

export interface XapiConnectOptions {
  url: string;
  username: string;
  password: string;
  /** The approved certificate fingerprint (TOFU). Required for https. */
  trustedFingerprint?: string | null;
  /** Called when HOST_IS_SLAVE sends us to the coordinator; it must approve the coordinator's certificate too. */
  fingerprintFor?: (url: string) => string | null | undefined;
  originator?: string;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 3;

export function normaliseUrl(input: string): string {
  const u = new URL(/^[a-z]+:\/\//i.test(input) ? input : `https://${input}`);
  return `${u.protocol}//${u.host}`;
}

/** A coordinator address from HOST_IS_SLAVE: a bare address takes the scheme and port we came in with. */
function coordinatorUrl(from: string, address: string): string {
  const u = new URL(from);
  if (/^[a-z]+:\/\//i.test(address)) return normaliseUrl(address);
  const hasPort = /^\[.*\]:\d+$/.test(address) || /^[^:\]]+:\d+$/.test(address);
  return `${u.protocol}//${hasPort ? address : `${address.includes(':') && !address.startsWith('[') ? `[${address}]` : address}${u.port ? `:${u.port}` : ''}`}`;
}

/**
 * A logged-in XAPI session: follows HOST_IS_SLAVE to the coordinator, logs in again on SESSION_INVALID,
 * and carries the pinned TLS agent the data path uses too.
 */
export class XapiSession {
  private sessionRef: string | undefined;
  private loggingIn: Promise<string> | undefined;
  readonly agent: Agent;
  private constructor(
    readonly url: string,
    private readonly opts: XapiConnectOptions,
    readonly fingerprint: string | null,
  ) {
    this.agent = createPinnedAgent(new URL(url).host, fingerprint);
  }

  static async connect(opts: XapiConnectOptions): Promise<XapiSession> {
    let url = normaliseUrl(opts.url);
    let fp = opts.trustedFingerprint ? normaliseFingerprint(opts.trustedFingerprint) : null;
    for (let hop = 0; ; hop++) {
      const session = new XapiSession(url, opts, url.startsWith('https:') ? fp : null);
      try {
        await session.login();
        return session;
      } catch (err) {
        await session.agent.close().catch(() => {});
        if (err instanceof XapiError && err.xapiCode === 'HOST_IS_SLAVE' && err.params[0] && hop < MAX_REDIRECTS) {
          const next = coordinatorUrl(url, err.params[0]);
          const nextFp = opts.fingerprintFor?.(next);
          // A pool shares one certificate only sometimes; the coordinator's must be approved on its own.
          fp = nextFp === undefined ? fp : nextFp === null ? null : normaliseFingerprint(nextFp);
          url = next;
          continue;
        }
        throw err;
      }
    }
  }

  get sessionId(): string {
    if (!this.sessionRef)
      throw new SluiceError('UNAUTHORIZED', 'Not logged in to the host.', { context: { host: this.url } });
    return this.sessionRef;
  }

  private login(): Promise<string> {
    this.loggingIn ??= jsonRpcCall(
      this.url,
      this.agent,
      'session.login_with_password',
      [this.opts.username, this.opts.password, '1.1', this.opts.originator ?? 'Sluice'],
      this.opts.signal,
    )
      .then((ref) => {
        this.sessionRef = String(ref);
        return this.sessionRef;
      })
      .finally(() => {
        this.loggingIn = undefined;
      });
    return this.loggingIn;
  }

  /** Calls a method with the session as first argument; one fresh login if the host forgot our session. */
  async call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    const ref = this.sessionRef ?? (await this.login());
    try {
      return (await jsonRpcCall(this.url, this.agent, method, [ref, ...args], this.opts.signal)) as T;
    } catch (err) {
      if (err instanceof XapiError && err.xapiCode === 'SESSION_INVALID') {
        if (this.sessionRef === ref) this.sessionRef = undefined;
        const fresh = this.sessionRef ?? (await this.login());
        return (await jsonRpcCall(this.url, this.agent, method, [fresh, ...args], this.opts.signal)) as T;
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    const ref = this.sessionRef;
    this.sessionRef = undefined;
    if (ref) await jsonRpcCall(this.url, this.agent, 'session.logout', [ref]).catch(() => {});
    // destroy, not close: a pending event.from long-poll would otherwise hold the close for its full timeout.
    await this.agent.destroy().catch(() => {});
  }
}
