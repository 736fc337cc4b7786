import { promises as fs } from 'node:fs';
import { SluiceError } from '../errors/sluice-error.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { CertificateChangedError, normaliseFingerprint } from '../xapi/tls-pinning.js';
import { XapiError } from '../xapi/xapi-error.js';
import { normaliseUrl, XapiSession } from '../xapi/xapi-session.js';

export async function readPasswordFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new SluiceError(
      'VALIDATION',
      `Cannot read the password file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
      {
        hint: 'Put the host password alone in a file readable only by you (chmod 600), and pass its path.',
      },
    );
  }
  // One trailing newline is the editor's, not the password's.
  const pw = text.replace(/\r?\n$/, '');
  if (!pw)
    throw new SluiceError('VALIDATION', `The password file ${file} is empty.`, {
      hint: 'Write the host password into it.',
    });
  return pw;
}

/** The flags every command that talks to a pool takes, with the same meaning everywhere. */
export const HOST_CONNECTION_OPTIONS = {
  host: { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  'trust-fingerprint': { type: 'string' },
} as const;

/** What HOST_CONNECTION_OPTIONS hold once parsed and --host and --username are known to be given. */
export interface HostConnectionFlags {
  host: string;
  username: string;
  'trust-fingerprint'?: string | undefined;
}

/** connectTrusted to the pool the command's flags name, cancelled by `signal`. */
export function connectWithFlags(
  settings: SettingsStore,
  flags: HostConnectionFlags,
  password: string,
  signal: AbortSignal,
): Promise<XapiSession> {
  return connectTrusted(settings, {
    url: flags.host,
    username: flags.username,
    password,
    trustFingerprint: flags['trust-fingerprint'],
    signal,
  });
}

/**
 * Connects with trust on first use, remembering approvals in the settings: an explicit --trust-fingerprint is
 * the user's approval; a remembered one must match; neither means refusing, with the fingerprint to check.
 */
export async function connectTrusted(
  settings: SettingsStore,
  opts: { url: string; username: string; password: string; trustFingerprint?: string; signal?: AbortSignal },
): Promise<XapiSession> {
  const url = normaliseUrl(opts.url);
  const remembered = (): string | undefined => {
    const s = settings.get();
    return s.trustedCertificates[url] ?? s.hosts.find((h) => h.url === url)?.trustedFingerprint ?? undefined;
  };
  const explicit = opts.trustFingerprint ? normaliseFingerprint(opts.trustFingerprint) : undefined;
  if (opts.trustFingerprint !== undefined && (explicit ?? '').split(':').length !== 32) {
    throw new SluiceError('VALIDATION', `"${opts.trustFingerprint}" is not a SHA-256 fingerprint.`, {
      hint: 'Give the 64 hex digits (colons optional), as Sluice printed them.',
    });
  }
  const pinned = explicit ?? remembered() ?? null;
  const remember = async () => {
    if (explicit && remembered() !== explicit)
      await settings.update((s) => void (s.trustedCertificates[url] = explicit));
  };
  try {
    const session = await XapiSession.connect({
      url,
      username: opts.username,
      password: opts.password,
      trustedFingerprint: pinned,
      fingerprintFor: (u) => explicit ?? settings.get().trustedCertificates[u],
      signal: opts.signal,
    });
    await remember();
    return session;
  } catch (err) {
    // The host answered (a wrong password, say) over the approved certificate: the approval stands on its own.
    if (err instanceof XapiError) await remember();
    // An explicit approval that does not match what the host shows is a change, whatever we remembered.
    if (err instanceof CertificateChangedError && explicit && remembered() && remembered() !== explicit) {
      throw new CertificateChangedError(err.host, remembered()!, err.presented);
    }
    throw err;
  }
}
