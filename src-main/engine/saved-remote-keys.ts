import { SluiceError } from '../errors/sluice-error.js';
import { parseRemoteKey, remoteKeySecretId } from '../remotes/encryption-keys.js';
import type { EngineContext } from './engine-context.js';

/**
 * The keys of the saved encrypted remotes, looked up in the secret store by location when a remote is first
 * used (`setRemoteKeyLookup`): the settings file says only that a remote is encrypted.
 */
export function savedRemoteKeys(ctx: EngineContext): (location: string) => Promise<Buffer | undefined> {
  return async (location) => {
    const remote = ctx.settings.get().remotes.find((r) => r.path === location && r.encrypted);
    if (!remote) return undefined;
    const text = await ctx.secrets.get(remoteKeySecretId(remote.id));
    if (text === undefined)
      throw new SluiceError(
        'UNAUTHORIZED',
        `The key of the encrypted remote "${remote.name}" is not in the secret store.`,
        {
          hint: 'Remove the remote and add it again with its key (the one written down when it was created).',
          context: { remote: location },
        },
      );
    return parseRemoteKey(text);
  };
}
