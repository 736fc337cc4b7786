import { useState, type FormEvent } from 'react';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import { useClient } from '../../client/client-context';
import { ConfirmDialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { useRemotePoints } from '../../shared/data/use-points';
import { formatBytes, formatPercent, formatRate } from '../../../../src-shared/units';
import { EncryptionKeyFields, encryptionProblem, NO_ENCRYPTION } from './EncryptionKeyFields';

type TestResult = ResponseOf<'remotes.test'>;

export function RemotesPage() {
  const client = useClient();
  const data = useRemotePoints();
  const [error, setError] = useState<unknown>(null);
  const [form, setForm] = useState({ name: '', path: '' });
  const [encryption, setEncryption] = useState(NO_ENCRYPTION);
  const encryptionIssue = encryptionProblem(encryption);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await client.invoke('remotes.add', { ...form, ...(encryption.enabled ? { encryptionKey: encryption.key } : {}) });
      setForm({ name: '', path: '' });
      setEncryption(NO_ENCRYPTION);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Remotes</h1>
      <div className="panel">
        <h2>Add a remote</h2>
        <p className="muted">
          A local folder or a mounted share (NFS, SMB). Sluice never creates a missing remote folder: an unmounted share
          must fail a backup, not fill the local disk.
        </p>
        <form className="inline-form" onSubmit={(e) => void submit(e)} aria-label="Add a remote">
          <label>
            Name
            <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="NAS" />
          </label>
          <label style={{ flex: '1 1 320px' }}>
            Folder
            <input
              value={form.path}
              onChange={(e) => setForm({ ...form, path: e.target.value })}
              placeholder="/mnt/backups"
            />
          </label>
          <button type="submit" disabled={encryptionIssue !== undefined}>
            Add remote
          </button>
        </form>
        <EncryptionKeyFields value={encryption} onChange={setEncryption} />
        {encryption.enabled && encryptionIssue && <p className="muted">{encryptionIssue}</p>}
        <ErrorMessage error={error} />
      </div>
      <ErrorMessage error={data.errors['']} />
      <table aria-label="Remotes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Folder</th>
            <th className="n">Backups</th>
            <th className="n">Used by Sluice</th>
            <th className="n">Free</th>
            <th className="n">Size</th>
            <th>
              <span className="muted">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data.remotes.map((r) => (
            <RemoteRow key={r.id} remote={r} usage={data.usage[r.id]} error={data.errors[r.id]} />
          ))}
          {data.remotes.length === 0 && !data.loading && (
            <tr>
              <td colSpan={7}>No remote yet.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

function RemoteRow({
  remote: r,
  usage,
  error,
}: {
  remote: RemoteSummary;
  usage: ResponseOf<'remotes.usage'> | undefined;
  error: unknown;
}) {
  const client = useClient();
  const [test, setTest] = useState<TestResult | null>(null);
  const [testError, setTestError] = useState<unknown>(null);
  const [testing, setTesting] = useState(false);
  const [removing, setRemoving] = useState(false);
  const runTest = async () => {
    setTesting(true);
    setTest(null);
    setTestError(null);
    try {
      setTest(await client.invoke('remotes.test', { id: r.id }));
    } catch (err) {
      setTestError(err);
    } finally {
      setTesting(false);
    }
  };
  return (
    <>
      <tr aria-label={r.name}>
        <td>
          {r.name}
          {r.encrypted && (
            <>
              {' '}
              <span className="badge info" title="Encrypted at rest; its key is in the secret store">
                encrypted
              </span>
            </>
          )}
        </td>
        <td className="mono">{r.path}</td>
        <td className="n">
          {usage
            ? `${usage.points} point${usage.points === 1 ? '' : 's'} of ${usage.vms} VM${usage.vms === 1 ? '' : 's'}`
            : '—'}
        </td>
        <td className="n">{usage ? formatBytes(usage.repositoryBytes) : '—'}</td>
        <td className="n">
          {usage && usage.freeBytes !== null
            ? `${formatBytes(usage.freeBytes)} (${formatPercent(usage.totalBytes ? usage.freeBytes / usage.totalBytes : 0)})`
            : '—'}
        </td>
        <td className="n">{usage && usage.totalBytes !== null ? formatBytes(usage.totalBytes) : '—'}</td>
        <td className="nowrap">
          <button
            type="button"
            className="secondary"
            onClick={() => void runTest()}
            disabled={testing}
            aria-label={`Test remote ${r.name}`}
          >
            {testing ? 'Testing…' : 'Test'}
          </button>{' '}
          <button
            type="button"
            className="secondary"
            onClick={() => setRemoving(true)}
            aria-label={`Remove remote ${r.name}`}
          >
            Remove
          </button>
          <ConfirmDialog
            title={`Remove the remote ${r.name}?`}
            open={removing}
            confirmLabel="Remove remote"
            cancelLabel="Keep it"
            danger
            onConfirm={() => void client.invoke('remotes.remove', { id: r.id })}
            onClose={() => setRemoving(false)}
          >
            <p>Sluice stops using {r.path}. The backups in it are not deleted.</p>
          </ConfirmDialog>
        </td>
      </tr>
      {(test || testError || error) && (
        <tr>
          <td colSpan={7}>
            {test && (
              <div className="notice ok" role="status" aria-label={`Test of ${r.name}`}>
                <strong>{r.name} is writable.</strong>{' '}
                {test.freeBytes !== null && test.totalBytes !== null
                  ? `Free space ${formatBytes(test.freeBytes)} of ${formatBytes(test.totalBytes)}; write speed `
                  : 'Write speed '}
                <span className="num" data-testid="write-speed">
                  {formatRate(test.writeBytesPerSec)}
                </span>{' '}
                (wrote and synced {formatBytes(test.testedBytes)}, then removed it).
              </div>
            )}
            <ErrorMessage error={testError} title={`The test of ${r.name} failed.`} />
            {!testError && <ErrorMessage error={error} title={`Sluice cannot read ${r.path}.`} />}
          </td>
        </tr>
      )}
    </>
  );
}
