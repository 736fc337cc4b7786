import { useEffect, useState, type FormEvent } from 'react';
import type { BackupPointSummary } from '../../../../src-shared/contract/backups';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import { useClient } from '../../client/client-context';
import type { Pools } from '../../shared/data/use-pools';
import { formatBytes } from '../../../../src-shared/units';
import { Dialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { poolName } from '../../shared/data/pool-name';
import { RESTORED_TAG, restoredVmName } from '../../../../src-shared/restored-vm';

export interface PointTarget {
  remoteId: string;
  point: BackupPointSummary;
}

/**
 * Restore a point as a new VM (pick the pool, the SR, per disk for incremental points, a name, start after),
 * or one of its disks as a new VDI attached to no VM (pick the disk, its SR, a name).
 */
export function RestoreDialog({
  target,
  pools,
  onClose,
  onStarted,
}: {
  target: PointTarget | null;
  pools: Pools;
  onClose: () => void;
  onStarted: (operationId: string, label: string) => void;
}) {
  const client = useClient();
  const [hostId, setHostId] = useState('');
  const [disks, setDisks] = useState<ResponseOf<'points.disks'> | null>(null);
  const [srByDisk, setSrByDisk] = useState<Record<string, string>>({});
  const [sr, setSr] = useState('');
  const [name, setName] = useState('');
  const [start, setStart] = useState(false);
  // A whole VM, or one disk as a new VDI attached to nothing (XO #4606: admins ask for a single disk).
  const [what, setWhat] = useState<'vm' | 'disk'>('vm');
  const [disk, setDisk] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!target) return;
    setHostId((h) => h || pools.hosts[0]?.id || '');
    setName('');
    setError(null);
    setDisks(null);
    setWhat('vm');
    setDisk('');
    client
      .invoke('points.disks', { remoteId: target.remoteId, vmUuid: target.point.vmUuid, pointId: target.point.id })
      .then((d) => {
        setDisks(d);
        setDisk(d.disks[0]?.position ?? '');
      }, setError);
  }, [client, target, pools.hosts]);

  const inventory = pools.inventories[hostId];
  const srs = (inventory?.srs ?? []).filter((s) => s.type !== 'iso' && s.type !== 'udev');
  const defaultSr = inventory?.pool?.defaultSrUuid ?? '';
  useEffect(() => {
    setSr(defaultSr);
    setSrByDisk({});
  }, [hostId, defaultSr]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    setBusy(true);
    setError(null);
    try {
      const when = new Date(target.point.timestamp).toLocaleString();
      if (what === 'disk') {
        const chosen = disks?.disks.find((d) => d.position === disk);
        const { operationId } = await client.invoke('points.restoreDisk', {
          remoteId: target.remoteId,
          vmUuid: target.point.vmUuid,
          pointId: target.point.id,
          hostId,
          disk,
          ...(sr ? { srUuid: sr } : {}),
          ...(name.trim() ? { name: name.trim() } : {}),
        });
        onStarted(
          operationId,
          `Restore of disk ${disk}${chosen ? ` “${chosen.name}”` : ''} of ${target.point.vmName} ${when}`,
        );
        onClose();
        return;
      }
      const perDisk = disks?.perDiskSr ? Object.fromEntries(Object.entries(srByDisk).filter(([, v]) => v)) : undefined;
      const { operationId } = await client.invoke('points.restore', {
        remoteId: target.remoteId,
        vmUuid: target.point.vmUuid,
        pointId: target.point.id,
        hostId,
        ...(sr ? { srUuid: sr } : {}),
        ...(perDisk && Object.keys(perDisk).length ? { srByDisk: perDisk } : {}),
        ...(name.trim() ? { name: name.trim() } : {}),
        start,
      });
      onStarted(operationId, `Restore of ${target.point.vmName} ${when}`);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const srSelect = (value: string, onChange: (v: string) => void, label: string) => (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {srs.map((s) => (
          <option key={s.uuid} value={s.uuid}>
            {s.name} ({s.type}, {formatBytes(s.size - s.used)} free){s.uuid === defaultSr ? ' · default' : ''}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <Dialog title={target ? `Restore ${target.point.vmName}` : 'Restore'} open={target !== null} onClose={onClose}>
      {target && (
        <form onSubmit={(e) => void submit(e)} aria-label="Restore">
          <p className="muted">
            Point {target.point.id} ({target.point.mode}) from {new Date(target.point.timestamp).toLocaleString()}.{' '}
            {what === 'vm'
              ? 'It is restored as a new VM'
              : 'The disk is restored as a new disk (VDI), attached to no VM'}
            ; nothing existing is replaced.
          </p>
          <fieldset>
            <legend>What to restore</legend>
            <label className="radio">
              <input type="radio" name="restore-what" checked={what === 'vm'} onChange={() => setWhat('vm')} /> The
              whole VM
            </label>
            <label className="radio">
              <input
                type="radio"
                name="restore-what"
                checked={what === 'disk'}
                disabled={disks?.disks.length === 0}
                onChange={() => setWhat('disk')}
              />{' '}
              One disk, as a new disk attached to no VM
            </label>
            {disks?.disks.length === 0 && (
              <span className="help">
                This point's XVA is compressed: its disks can be restored only with the whole VM, onto one SR.
              </span>
            )}
          </fieldset>
          <div className="form-grid" style={{ gridTemplateColumns: '1fr' }}>
            <label>
              Pool
              <select value={hostId} onChange={(e) => setHostId(e.target.value)}>
                {pools.hosts.map((h) => (
                  <option key={h.id} value={h.id}>
                    {poolName(h, pools.inventories[h.id])}
                  </option>
                ))}
              </select>
            </label>
            {what === 'disk' && (
              <label>
                Disk
                <select value={disk} onChange={(e) => setDisk(e.target.value)} disabled={!disks}>
                  {(disks?.disks ?? []).map((d) => (
                    <option key={d.position} value={d.position}>
                      Disk {d.position} “{d.name}” ({formatBytes(d.virtualSize)})
                    </option>
                  ))}
                </select>
              </label>
            )}
            {!inventory && (pools.states[hostId]?.state === 'error' || pools.errors[hostId] !== undefined) ? (
              <p role="alert">
                The pool is not connected, so its storage cannot be listed:{' '}
                {pools.states[hostId]?.error?.message ?? 'its inventory could not be read'}. Open Hosts to reconnect it
                (or choose another pool).
              </p>
            ) : !inventory ? (
              <p className="muted">Reading the pool's storage…</p>
            ) : null}
            {inventory &&
              srSelect(
                sr,
                setSr,
                what === 'disk' ? 'SR of the new disk' : disks?.perDiskSr ? 'SR (every disk not set below)' : 'SR',
              )}
            {inventory &&
              what === 'vm' &&
              disks?.perDiskSr &&
              disks.disks.map((d) => (
                <div key={d.position}>
                  {srSelect(
                    srByDisk[d.position] ?? sr,
                    (v) => setSrByDisk((m) => ({ ...m, [d.position]: v })),
                    `SR for disk ${d.position} “${d.name}” (${formatBytes(d.virtualSize)})`,
                  )}
                </div>
              ))}
            {what === 'vm' && disks && target.point.mode === 'full' && disks.disks.length > 1 && (
              <span className="help">
                A full point (XVA) is imported onto one SR; a disk set to another SR is then copied there, so that SR
                needs room for it during the restore.
              </span>
            )}
            {what === 'vm' ? (
              <>
                <label>
                  Name of the new VM
                  <input
                    value={name}
                    onChange={(e) => setName(e.target.value)}
                    placeholder={restoredVmName(target.point.vmName, target.point.timestamp)}
                  />
                  <span className="help">
                    Left empty: the original's name and the point's date. The new VM is tagged “{RESTORED_TAG}”.
                  </span>
                </label>
                <label className="check">
                  <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> Start the VM
                  after the restore
                </label>
              </>
            ) : (
              <label>
                Name of the new disk
                <input
                  value={name}
                  onChange={(e) => setName(e.target.value)}
                  placeholder={disks?.disks.find((d) => d.position === disk)?.name ?? ''}
                />
              </label>
            )}
          </div>
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="button" className="secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" disabled={busy || !hostId || (what === 'disk' && !disk)}>
              {what === 'vm' ? 'Restore' : 'Restore disk'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
