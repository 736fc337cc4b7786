import { useState, type FormEvent } from 'react';
import { IpcCallError } from '../../../../src-shared/ipc-errors';
import { useClient } from '../../client/client-context';
import { issueAt, type Issue } from '../../jobs/job-form-model';
import { Dialog } from '../Dialog';
import { ErrorMessage } from '../ErrorMessage';
import { FieldIssue } from '../jobs/FieldIssue';
import type { PointTarget } from './RestoreDialog';

const formats = [
  ['xva', 'XVA (the whole VM, importable by XCP-ng, XenServer, XO): a file'],
  ['vhd', 'VHD per disk (chains flattened): a file, or a folder for several disks'],
  ['raw', 'Raw image per disk (sparse): a file, or a folder for several disks'],
] as const;

/** Export a point to files for use elsewhere; the path is where the engine runs (this machine). */
export function ExportDialog({ target, onClose, onStarted }: { target: PointTarget | null; onClose: () => void; onStarted: (operationId: string, label: string) => void }) {
  const client = useClient();
  const [format, setFormat] = useState<'xva' | 'vhd' | 'raw'>('xva');
  const [outPath, setOutPath] = useState('');
  const [issues, setIssues] = useState<Issue[]>([]);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    setIssues([]);
    setError(null);
    try {
      const { operationId } = await client.invoke('points.export', { remoteId: target.remoteId, vmUuid: target.point.vmUuid, pointId: target.point.id, format, outPath });
      onStarted(operationId, `Export of ${target.point.vmName} ${new Date(target.point.timestamp).toLocaleString()} (${format})`);
      onClose();
    } catch (err) {
      const found = err instanceof IpcCallError ? (err.detail.issues ?? []) : [];
      setIssues(found);
      if (!issueAt(found, 'outPath')) setError(err);
    }
  };
  const pathIssue = issueAt(issues, 'outPath');
  return (
    <Dialog title={target ? `Export ${target.point.vmName}` : 'Export'} open={target !== null} onClose={onClose}>
      {target && (
        <form onSubmit={submit} aria-label="Export" noValidate>
          <fieldset>
            <legend>Format</legend>
            {formats.map(([f, words]) => (
              <label key={f} className="radio">
                <input type="radio" name="export-format" checked={format === f} onChange={() => setFormat(f)} /> {words}
              </label>
            ))}
          </fieldset>
          <label>
            Output path (full path on this machine)
            <input className="mono" value={outPath} onChange={(e) => setOutPath(e.target.value)} placeholder={`/home/me/${target.point.vmName}.${format}`} aria-invalid={pathIssue ? true : undefined} aria-describedby={pathIssue ? 'outPath' : undefined} />
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
