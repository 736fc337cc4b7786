import net from 'node:net';
import tls from 'node:tls';
import { describeNetworkError } from './host-unreachable.js';
import {
  CertificateChangedError,
  CertificateUntrustedError,
  fingerprintOfDer,
  normaliseFingerprint,
} from './tls-pinning.js';

const CONNECT_TIMEOUT_MS = 30_000;

/**
 * A socket to a host whose certificate has been checked against the pin BEFORE anything is sent on it (the
 * session id travels in the request line, so it must never reach an impostor).
 */
export function connectPinned(url: URL, pin: string | null, onread?: net.OnReadOpts): Promise<net.Socket> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        err instanceof CertificateChangedError || err instanceof CertificateUntrustedError
          ? err
          : describeNetworkError(url.host, err),
      );
    };
    const timer = setTimeout(
      () => fail(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
      CONNECT_TIMEOUT_MS,
    );
    let socket: net.Socket;
    if (url.protocol !== 'https:') {
      socket = net.connect({ host, port, ...(onread ? { onread } : {}) }, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(socket);
      });
    } else {
      socket = tls.connect(
        {
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          rejectUnauthorized: false,
          ...(onread ? { onread } : {}),
        } as tls.ConnectionOptions,
        () => {
          const raw = (socket as tls.TLSSocket).getPeerCertificate(false)?.raw;
          const presented = raw ? fingerprintOfDer(raw) : '';
          if (pin === null) return fail(new CertificateUntrustedError(url.host, presented));
          if (presented !== normaliseFingerprint(pin))
            return fail(new CertificateChangedError(url.host, normaliseFingerprint(pin), presented));
          clearTimeout(timer);
          socket.off('error', fail);
          resolve(socket);
        },
      );
    }
    socket.once('error', fail);
  });
}
