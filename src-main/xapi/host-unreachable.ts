import { SluiceError } from '../errors/sluice-error.js';

/** Network-level failures in plain words: what did not answer, and what to check. */
export function describeNetworkError(host: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.code ?? e?.cause?.code ?? '';
  const reason: Record<string, string> = {
    ECONNREFUSED: 'refused the connection (nothing listens on that port)',
    ENOTFOUND: 'does not resolve in DNS',
    EAI_AGAIN: 'could not be resolved (DNS did not answer)',
    ETIMEDOUT: 'did not answer in time',
    UND_ERR_CONNECT_TIMEOUT: 'did not answer in time',
    EHOSTUNREACH: 'is unreachable from this machine',
    ENETUNREACH: 'is on a network this machine cannot reach',
    ECONNRESET: 'closed the connection unexpectedly',
    UND_ERR_SOCKET: 'closed the connection unexpectedly',
    EPROTO: 'does not speak TLS on that port',
  };
  const why = reason[code] ?? `could not be reached (${code || (e?.message ?? String(err))})`;
  return new SluiceError('HOST_UNREACHABLE', `The host ${host} ${why}.`, {
    hint: 'Check the address and port, that the host is up, and that no firewall blocks HTTPS (443) from this machine.',
    context: { host },
    cause: err,
  });
}
