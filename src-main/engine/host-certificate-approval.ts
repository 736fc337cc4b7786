import { SluiceError } from '../errors/sluice-error.js';
import type { HostSetting } from '../settings/settings-schema.js';
import { CertificateChangedError, normaliseFingerprint } from '../xapi/tls-pinning.js';
import { XapiSession } from '../xapi/xapi-session.js';
import type { EngineContext } from './engine-context.js';
import type { PoolConnections } from './pool-connections.js';

const CHECK_ON_CONSOLE = 'openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem';

/**
 * A known pool now presents another certificate (reinstalled, renewed): the admin approves the new one in
 * place, so the pool keeps its id, saved password and jobs. The approval names the fingerprint the admin saw;
 * we log in pinned to exactly that one, so a certificate that changed again since (or an interceptor) is
 * refused, never silently trusted. Only then is the pin stored and the pool reconnected.
 */
export async function approveHostCertificate(
  ctx: EngineContext,
  pools: PoolConnections,
  req: { hostId: string; fingerprint: string },
): Promise<HostSetting> {
  const host = ctx.settings.get().hosts.find((h) => h.id === req.hostId);
  if (!host)
    throw new SluiceError('NOT_FOUND', 'That pool is no longer configured in Sluice.', {
      hint: 'Add it again under Hosts.',
      context: { hostId: req.hostId },
    });
  if (!host.url.startsWith('https:')) {
    throw new SluiceError(
      'VALIDATION',
      `The pool at ${host.url} is reached over plain HTTP: it has no certificate to approve.`,
      { context: { host: host.url } },
    );
  }
  const wanted = normaliseFingerprint(req.fingerprint);
  const password = await ctx.secrets.get(host.secretId);
  if (password === undefined) {
    throw new SluiceError('UNAUTHORIZED', `No password is stored for ${host.label}.`, {
      hint: 'Remove the pool and add it again.',
      context: { host: host.url },
    });
  }

  // The pinned agent checks the certificate on the very connection that logs in: no window between a look
  // and the login for another certificate to slip in.
  let session: XapiSession;
  try {
    session = await XapiSession.connect({
      url: host.url,
      username: host.username,
      password,
      trustedFingerprint: wanted,
    });
  } catch (err) {
    if (err instanceof CertificateChangedError) {
      throw new SluiceError(
        'CERTIFICATE_CHANGED',
        `The certificate of ${host.label} changed again since you looked: you approved ${wanted}, but ${host.url} presents ${err.presented} now. Nothing was changed.`,
        {
          hint: `Check the fingerprint now presented on the host's console (${CHECK_ON_CONSOLE}) and approve that one only if it matches; otherwise someone may be intercepting the connection.`,
          context: { host: host.url, approvedFingerprint: wanted, presentedFingerprint: err.presented },
        },
      );
    }
    throw err;
  }
  await session.close();

  // Drop the refused connection first, so the next use of the pool connects with the new pin.
  await pools.disconnect(host.id);
  let updated: HostSetting = host;
  await ctx.settings.update((s) => {
    const h = s.hosts.find((x) => x.id === host.id);
    if (!h) return;
    h.trustedFingerprint = wanted;
    s.trustedCertificates[h.url] = wanted;
    updated = { ...h };
  });
  ctx.bus.emit('engine.log', {
    level: 'info',
    message: `New certificate of ${host.label} approved (SHA-256 ${wanted}; was ${host.trustedFingerprint ?? 'none'}).`,
    at: new Date().toISOString(),
    context: { host: host.label },
  });
  // Reconnect now: the connection state and the inventory go out as events. A failure here (the host went
  // away meanwhile) is the pool's state to show, not a failed approval.
  await pools.session(host.id).catch(() => undefined);
  ctx.bus.emit('settings.changed', { section: 'hosts' });
  return updated;
}
