import { useEffect, useState, type FormEvent } from 'react';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import { navigate } from '../../app/navigation';
import { useRunStore } from '../../shared/runs/runs-context';
import { useClient } from '../../client/client-context';
import { formatRate, MiB } from '../../../../src-shared/units';
import { Dialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';

export interface BackupTarget {
  hostId: string;
  vm: { uuid: string; name: string };
}

/** "Back up now" for one VM: pick the remote and the mode, start, and go watch it on Transfers. */
export function BackupNowDialog({ target, onClose }: { target: BackupTarget | null; onClose: () => void }) {
  const client = useClient();
  const store = useRunStore();
  const [remotes, setRemotes] = useState<RemoteSummary[] | null>(null);
  const [remoteId, setRemoteId] = useState('');
  const [mode, setMode] = useState<'full' | 'delta'>('full');
  const [limit, setLimit] = useState('');
  const [defaultLimit, setDefaultLimit] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!target) return;
    setError(null);
    void Promise.all([client.invoke('remotes.list', {}), client.invoke('settings.getPreferences', {})]).then(
      ([r, prefs]) => {
        setRemotes(r);
        setRemoteId((id) => (r.some((x) => x.id === id) ? id : (r[0]?.id ?? '')));
        setDefaultLimit(prefs.defaultSpeedLimitBytesPerSec);
      },
      setError,
    );
  }, [client, target]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    setError(null);
    const limitText = limit.trim();
    const limitMiB = limitText === '' ? null : Number(limitText);
    if (limitMiB !== null && (!Number.isFinite(limitMiB) || limitMiB <= 0)) {
      setError({
        message: `"${limitText}" is not a speed limit.`,
        hint: 'Enter a number of MiB per second, e.g. 50, or leave it empty for the default.',
      });
      return;
    }
    setBusy(true);
    try {
      const { runId } = await client.invoke('backup.start', {
        hostId: target.hostId,
        vmUuids: [target.vm.uuid],
        remoteId,
        mode,
        ...(limitMiB !== null ? { speedLimitBytesPerSec: Math.round(limitMiB * MiB) } : {}),
      });
      const remote = remotes?.find((r) => r.id === remoteId);
      store.started(runId, {
        label: `Backup of ${target.vm.name}`,
        vms: [target.vm],
        ...(remote ? { remoteName: remote.name } : {}),
        mode,
      });
      onClose();
      navigate('transfers');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={target ? `Back up ${target.vm.name} now` : 'Back up now'} open={target !== null} onClose={onClose}>
      {remotes && remotes.length === 0 ? (
        <>
          <p>There is no remote to back up to yet.</p>
          <div className="actions">
            <button type="button" className="secondary" onClick={onClose}>
              Close
            </button>
            <button
              type="button"
              onClick={() => {
                onClose();
                navigate('remotes');
              }}
            >
              Add a remote
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={(e) => void submit(e)} aria-label="Back up now">
          <div className="form-grid" style={{ gridTemplateColumns: '1fr' }}>
            <label>
              Remote
              <select value={remoteId} onChange={(e) => setRemoteId(e.target.value)} required>
                {(remotes ?? []).map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name}
                  </option>
                ))}
              </select>
              <span className="help mono">{remotes?.find((r) => r.id === remoteId)?.path}</span>
            </label>
            <fieldset>
              <legend>Mode</legend>
              <label className="radio">
                <input type="radio" name="mode" checked={mode === 'full'} onChange={() => setMode('full')} /> Full (one
                XVA file of the whole VM)
              </label>
              <label className="radio">
                <input type="radio" name="mode" checked={mode === 'delta'} onChange={() => setMode('delta')} /> Delta
                (VHD per disk, only what changed since the last delta)
              </label>
            </fieldset>
            <label>
              Speed limit (MiB/s)
              <input
                inputMode="decimal"
                value={limit}
                onChange={(e) => setLimit(e.target.value)}
                placeholder={defaultLimit ? `default ${formatRate(defaultLimit)}` : 'none'}
              />
            </label>
          </div>
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="button" className="secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" disabled={busy || !remoteId}>
              Start backup
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
