import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
let counter = 0;

export interface Certificate {
  key: string;
  cert: string;
  /** SHA-256 of the DER, uppercase hex pairs joined by colons (as Node's fingerprint256 and openssl print it). */
  fingerprint: string;
}

/**
 * A fresh self-signed certificate, as a newly installed host has (RSA 2048, CN = host name, valid for
 * 127.0.0.1). Generated with the openssl CLI in `dir`; the files are removed once read.
 */
export async function generateCertificate(dir: string, commonName: string): Promise<Certificate> {
  const base = join(dir, `cert-${process.pid}-${++counter}`);
  const keyPath = `${base}.key`;
  const certPath = `${base}.pem`;
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '3650',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { key, cert, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    await Promise.all([rm(keyPath, { force: true }), rm(certPath, { force: true })]);
  }
}
