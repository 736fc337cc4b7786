import { useCallback, useEffect, useState } from 'react';
import type { BackupPointSummary } from '../../../../src-shared/contract/backups';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import { useClient, useEvent } from '../../client/client-context';

export interface RemotePoints {
  remotes: RemoteSummary[];
  points: Record<string, BackupPointSummary[]>;
  unreadable: Record<string, ResponseOf<'backups.list'>['unreadable']>;
  usage: Record<string, ResponseOf<'remotes.usage'>>;
  errors: Record<string, unknown>;
  loading: boolean;
  refresh: () => void;
}

/** The remotes with their backup points and usage, re-read when a run ends or the remotes change. */
export function useRemotePoints(): RemotePoints {
  const client = useClient();
  const [state, setState] = useState<Omit<RemotePoints, 'refresh'>>({
    remotes: [],
    points: {},
    unreadable: {},
    usage: {},
    errors: {},
    loading: true,
  });
  const refresh = useCallback(() => {
    void (async () => {
      let remotes: RemoteSummary[];
      try {
        remotes = await client.invoke('remotes.list', {});
      } catch (err) {
        setState((s) => ({ ...s, loading: false, errors: { '': err } }));
        return;
      }
      const next: Omit<RemotePoints, 'refresh'> = {
        remotes,
        points: {},
        unreadable: {},
        usage: {},
        errors: {},
        loading: false,
      };
      await Promise.all(
        remotes.map(async (r) => {
          try {
            const [list, usage] = await Promise.all([
              client.invoke('backups.list', { remoteId: r.id }),
              client.invoke('remotes.usage', { id: r.id }),
            ]);
            next.points[r.id] = list.points;
            next.unreadable[r.id] = list.unreadable;
            next.usage[r.id] = usage;
          } catch (err) {
            next.errors[r.id] = err;
          }
        }),
      );
      setState(next);
    })();
  }, [client]);
  useEffect(refresh, [refresh]);
  useEvent(
    'settings.changed',
    useCallback((e) => e.section === 'remotes' && refresh(), [refresh]),
  );
  useEvent('backup.finished', refresh);
  useEvent('runs.finished', refresh);
  useEvent('operations.finished', refresh);
  return { ...state, refresh };
}

/** The newest point of each VM over every remote. */
export function newestPointByVm(points: Record<string, BackupPointSummary[]>): Map<string, BackupPointSummary> {
  const out = new Map<string, BackupPointSummary>();
  for (const list of Object.values(points)) {
    for (const p of list) {
      const prev = out.get(p.vmUuid);
      if (!prev || p.timestamp > prev.timestamp) out.set(p.vmUuid, p);
    }
  }
  return out;
}
