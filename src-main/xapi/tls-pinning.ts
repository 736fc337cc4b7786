import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { SluiceError } from '../errors/sluice-error.js';

/** "ab:cd…", "ABCD…", "SHA256:AB:CD…" all name the same certificate. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha-?256[:= ]?/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

export function fingerprintOfPem(pem: string): string {
  return normaliseFingerprint(new X509Certificate(pem).fingerprint256);
}

export function fingerprintOfDer(der: Buffer): string {
  return normaliseFingerprint(createHash('sha256').update(der).digest('hex'));
}

export class CertificateUntrustedError extends SluiceError {
  constructor(
    readonly host: string,
    readonly presented: string,
  ) {
    super(
      'CERTIFICATE_UNTRUSTED',
      `${host} presented a certificate Sluice has not seen before (SHA-256 ${presented}).`,
      {
        hint: `Check it on the host's console (openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem), then approve it (CLI: --trust-fingerprint ${presented}).`,
        context: { host, fingerprint: presented },
      },
    );
    this.name = 'CertificateUntrustedError';
  }
}

export class CertificateChangedError extends SluiceError {
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly presented: string,
  ) {
    super(
      'CERTIFICATE_CHANGED',
      `${host} presented a different certificate than the one you approved. Approved: ${expected}. Presented now: ${presented}.`,
      {
        hint: 'If the host was reinstalled or its certificate renewed, check the new fingerprint on its console and approve it again; otherwise someone may be intercepting the connection: do not continue.',
        context: { host, expectedFingerprint: expected, presentedFingerprint: presented },
      },
    );
    this.name = 'CertificateChangedError';
  }
}

/**
 * Trust on first use: hosts ship self-signed certificates, so CA validation says nothing. We pin the SHA-256
 * of the certificate the user approved and refuse any other, on every connection (RPC and data path alike).
 * With no pin, every TLS connection is refused with the fingerprint, for the user to approve.
 */
export function createPinnedAgent(
  hostLabel: string,
  pinned: string | null,
  opts: { connections?: number } = {},
): Agent {
  const expected = pinned === null ? null : normaliseFingerprint(pinned);
  // No TLS session resumption: a resumed session may not present the certificate, and we check it on every connection.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return new Agent({
    connections: opts.connections ?? 8,
    // A long export can pause while we apply backpressure; timeouts here are ours to manage, not undici's.
    bodyTimeout: 0,
    headersTimeout: 5 * 60_000,
    connect: (options, callback) => {
      base(options, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        if (!(socket instanceof tls.TLSSocket)) return callback(null, socket as Socket);
        const cert = socket.getPeerCertificate(false);
        const presented = cert?.raw ? fingerprintOfDer(cert.raw) : '';
        if (expected === null) {
          socket.destroy();
          return callback(new CertificateUntrustedError(hostLabel, presented), null);
        }
        if (presented !== expected) {
          socket.destroy();
          return callback(new CertificateChangedError(hostLabel, expected, presented), null);
        }
        callback(null, socket);
      });
    },
  });
}

/** Reads the certificate a host presents, without trusting it: for the "approve this fingerprint?" prompt. */
export function probeFingerprint(url: string, timeoutMs = 15_000): Promise<string | null> {
  const u = new URL(url);
  if (u.protocol !== 'https:') return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: u.hostname,
      port: Number(u.port || 443),
      servername: u.hostname.match(/^[\d.]+$/) ? undefined : u.hostname,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS answer from ${u.host} in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const raw = socket.getPeerCertificate(false)?.raw;
      socket.end();
      resolve(raw ? fingerprintOfDer(raw) : null);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
