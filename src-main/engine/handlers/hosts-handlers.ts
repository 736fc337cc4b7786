import { randomUUID } from 'node:crypto';
import type { HostSummary } from '../../../src-shared/ipc-contract.js';
import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { HostSetting } from '../../settings/settings-schema.js';
import type { EngineContext } from '../engine-context.js';

export function normaliseHostUrl(input: string): string {
  const u = new URL(/^[a-z]+:\/\//i.test(input) ? input : `https://${input}`);
  return `${u.protocol}//${u.host}`;
}

function summary(h: HostSetting): HostSummary {
  return { id: h.id, label: h.label, url: h.url, username: h.username, trustedFingerprint: h.trustedFingerprint, hasPassword: true };
}

export function hostsHandlers(ctx: EngineContext): Pick<Handlers, 'hosts.list' | 'hosts.add' | 'hosts.remove'> {
  return {
    'hosts.list': async () => ctx.settings.get().hosts.map(summary),
    'hosts.add': async (req) => {
      const url = normaliseHostUrl(req.url);
      if (ctx.settings.get().hosts.some((h) => h.url === url)) {
        throw new SluiceError('CONFLICT', `The pool at ${url} is already in Sluice.`, {
          hint: 'Edit or remove the existing entry instead.',
          context: { host: url },
        });
      }
      const id = randomUUID();
      const host: HostSetting = {
        id,
        label: req.label || new URL(url).hostname,
        url,
        username: req.username,
        trustedFingerprint: req.trustedFingerprint ?? null,
        secretId: `host:${id}`,
      };
      await ctx.secrets.set(host.secretId, req.password);
      try {
        await ctx.settings.update((s) => void s.hosts.push(host));
      } catch (err) {
        await ctx.secrets.delete(host.secretId);
        throw err;
      }
      ctx.bus.emit('settings.changed', { section: 'hosts' });
      return summary(host);
    },
    'hosts.remove': async ({ id }) => {
      const host = ctx.settings.get().hosts.find((h) => h.id === id);
      if (!host) return { removed: false };
      await ctx.settings.update((s) => void (s.hosts = s.hosts.filter((h) => h.id !== id)));
      await ctx.secrets.delete(host.secretId);
      ctx.bus.emit('settings.changed', { section: 'hosts' });
      return { removed: true };
    },
  };
}
