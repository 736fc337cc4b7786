import type { Session } from '../model/sessions.js';
import type { PoolState } from '../model/pool-state.js';
import type { HttpExchange } from './exchange.js';

export interface HttpAuth {
  session: Session;
  /** A session opened for HTTP Basic credentials; closed when the request ends, as xapi does. */
  transient: boolean;
}

function cookieSession(cookie: string | undefined): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 'session_id' && value) return decodeURIComponent(value);
  }
  return undefined;
}

/** session_id (query, then cookie), else HTTP Basic with the pool credentials; undefined means 401. */
export function authenticate(ex: HttpExchange, state: PoolState): HttpAuth | undefined {
  const ref = ex.query.get('session_id') ?? cookieSession(ex.headers['cookie']);
  if (ref !== undefined) {
    const session = state.sessions.get(ref);
    return session ? { session, transient: false } : undefined;
  }
  const basic = /^Basic\s+(\S+)$/i.exec(ex.headers['authorization'] ?? '');
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (colon < 0 || user !== state.config.username || password !== state.config.password) return undefined;
  return { session: state.sessions.open(user, 'http-basic'), transient: true };
}
