import { randomUUID } from 'node:crypto';
import type { HostSummary } from '../../../src-shared/contract/hosts.js';
import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { ParsedRequestOf } from '../../../src-shared/contract/index.js';
import type { HostSetting } from '../../settings/settings-schema.js';
import { normaliseFingerprint, probeFingerprint } from '../../xapi/tls-pinning.js';
import { describeNetworkError } from '../../xapi/host-unreachable.js';
import { normaliseUrl, XapiSession } from '../../xapi/xapi-session.js';
import type { EngineContext } from '../engine-context.js';
import { approveHostCertificate } from '../host-certificate-approval.js';
import type { PoolConnections } from '../pool-connections.js';

function summary(h: HostSetting): HostSummary {
  return {
    id: h.id,
    label: h.label,
    url: h.url,
    username: h.username,
    trustedFingerprint: h.trustedFingerprint,
    hasPassword: true,
  };
}

export function hostsHandlers(
  ctx: EngineContext,
  pools: PoolConnections,
): Pick<
  Handlers,
  | 'hosts.list'
  | 'hosts.add'
  | 'hosts.remove'
  | 'hosts.approveCertificate'
  | 'hosts.probe'
  | 'hosts.connectionStates'
  | 'inventory.get'
> {
  return {
    'hosts.list': async () => ctx.settings.get().hosts.map(summary),
    'hosts.probe': async ({ url: input }) => {
      const url = normaliseUrl(input);
      const fingerprint = await probeFingerprint(url).catch((err) => {
        throw describeNetworkError(new URL(url).host, err);
      });
      const s = ctx.settings.get();
      const known = s.hosts.find((h) => h.url === url)?.trustedFingerprint ?? s.trustedCertificates[url] ?? null;
      return { url, fingerprint, knownFingerprint: known };
    },
    'hosts.add': (req) => addHost(ctx, req),
    'hosts.remove': async ({ id }) => {
      const host = ctx.settings.get().hosts.find((h) => h.id === id);
      if (!host) return { removed: false };
      // A job names its pool by id: removing the pool under it would leave the job pointing at nothing.
      const users = ctx.settings.get().jobs.filter((j) => j.hostId === id);
      if (users.length > 0) {
        const names = users.map((j) => `"${j.name}"`).join(', ');
        throw new SluiceError(
          'CONFLICT',
          `The pool ${host.label} is used by ${users.length === 1 ? 'the job' : `${users.length} jobs:`} ${names}; Sluice keeps it.`,
          {
            hint: `Edit ${users.length === 1 ? 'that job' : 'those jobs'} to back up another pool, or remove ${users.length === 1 ? 'it' : 'them'}, then remove the pool. A changed certificate needs no removal: approve the new one on the pool.`,
            context: { host: host.url, jobs: users.map((j) => j.name).join(', ') },
          },
        );
      }
      await ctx.settings.update((s) => void (s.hosts = s.hosts.filter((h) => h.id !== id)));
      await ctx.secrets.delete(host.secretId);
      await pools.disconnect(id);
      ctx.bus.emit('settings.changed', { section: 'hosts' });
      return { removed: true };
    },
    'hosts.approveCertificate': async (req) => summary(await approveHostCertificate(ctx, pools, req)),
    'hosts.connectionStates': async () => pools.states(),
    'inventory.get': async ({ hostId }) => pools.inventory(hostId),
  };
}

/** A pool is saved only once a login works, with its password in the secret store, never in settings. */
async function addHost(ctx: EngineContext, req: ParsedRequestOf<'hosts.add'>): Promise<HostSummary> {
  const url = normaliseUrl(req.url);
  if (ctx.settings.get().hosts.some((h) => h.url === url)) {
    throw new SluiceError('CONFLICT', `The pool at ${url} is already in Sluice.`, {
      hint: 'Edit or remove the existing entry instead.',
      context: { host: url },
    });
  }
  // One trust store for the app and every command: a certificate `sluice backup --trust-fingerprint` approved
  // for this address is approved here too.
  const approved = req.trustedFingerprint ?? ctx.settings.get().trustedCertificates[url];
  const fingerprint = url.startsWith('https:') && approved ? normaliseFingerprint(approved) : null;
  // Log in once before saving anything: a wrong password or an unapproved certificate is said now, not
  // at 2 a.m. by the first scheduled backup.
  const session = await XapiSession.connect({
    url,
    username: req.username,
    password: req.password,
    trustedFingerprint: fingerprint,
  });
  const finalUrl = session.url;
  await session.close();
  const id = randomUUID();
  const host: HostSetting = {
    id,
    label: req.label || new URL(finalUrl).hostname,
    url: finalUrl,
    username: req.username,
    trustedFingerprint: session.fingerprint,
    secretId: `host:${id}`,
  };
  await ctx.secrets.set(host.secretId, req.password);
  try {
    await ctx.settings.update((s) => {
      s.hosts.push(host);
      if (host.trustedFingerprint) s.trustedCertificates[finalUrl] = host.trustedFingerprint;
    });
  } catch (err) {
    await ctx.secrets.delete(host.secretId);
    throw err;
  }
  ctx.bus.emit('settings.changed', { section: 'hosts' });
  return summary(host);
}
