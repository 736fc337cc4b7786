import { useState } from 'react';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import { useClient } from '../../client/client-context';
import { ConfirmDialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { useRemotePoints } from '../../shared/data/use-points';
import { formatBytes, formatPercent, formatRate } from '../../../../src-shared/units';
import { AddRemotePanel } from './AddRemotePanel';

type TestResult = ResponseOf<'remotes.test'>;

/** An object store has no size to fill: S3 says nothing of free space. */
const UNKNOWN_FREE = 'unknown (object storage)';

export function RemotesPage() {
  const data = useRemotePoints();
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Remotes</h1>
      <AddRemotePanel />
      <ErrorMessage error={data.errors['']} />
      <table aria-label="Remotes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Location</th>
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
        <td>
          <div className="mono">{r.path}</div>
          <div className="help" data-testid="remote-kind">
            {r.kind === 's3' ? `S3 object storage, access key id ${r.accessKeyId}` : 'Folder'}
          </div>
        </td>
        <td className="n">
          {usage
            ? `${usage.points} point${usage.points === 1 ? '' : 's'} of ${usage.vms} VM${usage.vms === 1 ? '' : 's'}`
            : '—'}
        </td>
        <td className="n">{usage ? formatBytes(usage.repositoryBytes) : '—'}</td>
        <td className="n">
          {!usage
            ? '—'
            : usage.freeBytes !== null
              ? `${formatBytes(usage.freeBytes)} (${formatPercent(usage.totalBytes ? usage.freeBytes / usage.totalBytes : 0)})`
              : UNKNOWN_FREE}
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
                <strong>{r.name} is writable.</strong> {r.kind === 's3' && 'Its keys and bucket were accepted. '}
                <span data-testid="free-space">
                  {test.freeBytes !== null && test.totalBytes !== null
                    ? `Free space ${formatBytes(test.freeBytes)} of ${formatBytes(test.totalBytes)}`
                    : `Free space: ${UNKNOWN_FREE}`}
                </span>
                ; write speed{' '}
                <span className="num" data-testid="write-speed">
                  {formatRate(test.writeBytesPerSec)}
                </span>{' '}
                {r.kind === 's3'
                  ? `(wrote, read back and deleted a probe object, then uploaded ${formatBytes(test.testedBytes)} and deleted it).`
                  : `(wrote and synced ${formatBytes(test.testedBytes)}, then removed it).`}
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
