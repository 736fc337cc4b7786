import { useEffect, useState, type FormEvent } from 'react';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import { IpcCallError } from '../../../../src-shared/contract/errors';
import { useClient } from '../../client/client-context';
import { formatBytes } from '../../../../src-shared/units';
import { issueAt, type Issue } from '../../shared/ui/field-issues';
import { Dialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { FieldIssue } from '../../shared/ui/FieldIssue';
import type { PointTarget } from './RestoreDialog';

const formats = [
  ['xva', 'XVA (the whole VM, importable by XCP-ng, XenServer, XO): a file'],
  ['vhd', 'VHD per disk (chains flattened): one disk or all of them'],
  ['raw', 'Raw image per disk (sparse): one disk or all of them'],
] as const;

/** Export a point to files for use elsewhere; the path is where the engine runs (this machine). */
export function ExportDialog({
  target,
  onClose,
  onStarted,
}: {
  target: PointTarget | null;
  onClose: () => void;
  onStarted: (operationId: string, label: string) => void;
}) {
  const client = useClient();
  const [format, setFormat] = useState<'xva' | 'vhd' | 'raw'>('xva');
  const [outPath, setOutPath] = useState('');
  const [issues, setIssues] = useState<Issue[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [disks, setDisks] = useState<ResponseOf<'points.disks'>['disks'] | null>(null);
  /** vhd/raw: '' for every disk, else one disk's position. */
  const [disk, setDisk] = useState('');

  useEffect(() => {
    if (!target) return;
    setDisks(null);
    setDisk('');
    setIssues([]);
    setError(null);
    client
      .invoke('points.disks', { remoteId: target.remoteId, vmUuid: target.point.vmUuid, pointId: target.point.id })
      .then((d) => setDisks(d.disks), setError);
  }, [client, target]);

  const perDisk = format !== 'xva';
  const one = perDisk && disk !== '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    setIssues([]);
    setError(null);
    try {
      const { operationId } = await client.invoke('points.export', {
        remoteId: target.remoteId,
        vmUuid: target.point.vmUuid,
        pointId: target.point.id,
        format,
        outPath,
        ...(one ? { disk } : {}),
      });
      onStarted(
        operationId,
        `Export of ${one ? `disk ${disk} of ` : ''}${target.point.vmName} ${new Date(target.point.timestamp).toLocaleString()} (${format})`,
      );
      onClose();
    } catch (err) {
      const found = err instanceof IpcCallError ? (err.detail.issues ?? []) : [];
      setIssues(found);
      if (!issueAt(found, 'outPath') && !issueAt(found, 'disk')) setError(err);
    }
  };
  const pathIssue = issueAt(issues, 'outPath');
  const diskIssue = issueAt(issues, 'disk');
  const placeholder = !target
    ? ''
    : format === 'xva'
      ? `/home/me/${target.point.vmName}.xva`
      : one
        ? `/home/me/${target.point.vmName}-disk${disk}.${format}`
        : `/home/me/${target.point.vmName}-disks/`;
  return (
    <Dialog title={target ? `Export ${target.point.vmName}` : 'Export'} open={target !== null} onClose={onClose}>
      {target && (
        <form onSubmit={(e) => void submit(e)} aria-label="Export" noValidate>
          <fieldset>
            <legend>Format</legend>
            {formats.map(([f, words]) => (
              <label key={f} className="radio">
                <input type="radio" name="export-format" checked={format === f} onChange={() => setFormat(f)} /> {words}
              </label>
            ))}
          </fieldset>
          {/* Always there (disabled for an XVA, which holds the whole VM), so picking a format never moves the form. */}
          <label>
            Disks
            <select
              value={perDisk ? disk : ''}
              onChange={(e) => setDisk(e.target.value)}
              disabled={!perDisk || !disks}
              aria-invalid={diskIssue ? true : undefined}
              aria-describedby={diskIssue ? 'disk' : undefined}
            >
              <option value="">{perDisk ? 'All disks (one file each, into a folder)' : 'The whole VM (XVA)'}</option>
              {(disks ?? []).map((d) => (
                <option key={d.position} value={d.position}>
                  Disk {d.position} “{d.name}” ({formatBytes(d.virtualSize)})
                </option>
              ))}
            </select>
            <FieldIssue id="disk" message={diskIssue} />
          </label>
          <label>
            Output path (full path on this machine):{' '}
            {format === 'xva' ? 'a file' : one || disks?.length === 1 ? 'a file, or a folder to put it in' : 'a folder'}
            <input
              className="mono"
              value={outPath}
              onChange={(e) => setOutPath(e.target.value)}
              placeholder={placeholder}
              aria-invalid={pathIssue ? true : undefined}
              aria-describedby={pathIssue ? 'outPath' : undefined}
            />
            <FieldIssue id="outPath" message={pathIssue} />
          </label>
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="button" className="secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit">Export</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
