import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import { describePointChains, pointKey, listBackupPoints, pointSizes } from '../../repository/index.js';
import type { EngineContext } from '../engine-context.js';

export function backupsHandlers(ctx: EngineContext): Pick<Handlers, 'backups.list'> {
  return {
    'backups.list': async ({ remoteId }) => {
      const remote = ctx.settings.get().remotes.find((r) => r.id === remoteId);
      if (!remote)
        throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', {
          hint: 'Pick another remote, or add it again.',
        });
      const { points, unreadable } = await listBackupPoints(remote.path);
      const chains = await describePointChains(points);
      const sizes = await pointSizes(points);
      return {
        remoteId,
        points: points.map((p) => ({
          vmUuid: p.vmUuid,
          vmName: p.vmName,
          id: p.id,
          timestamp: p.timestamp.toISOString(),
          mode: p.mode,
          jobId: p.jobId,
          size: sizes.get(p) ?? null,
          chain: chains.get(pointKey(p)) ?? { kind: 'standalone' as const },
        })),
        unreadable,
      };
    },
  };
}
