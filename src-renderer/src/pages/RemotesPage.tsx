import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { RemoteSummary } from '../../../src-shared/ipc-contract';
import { useClient, useEvent } from '../client/client-context';
import { ErrorMessage } from '../components/ErrorMessage';

export function RemotesPage() {
  const client = useClient();
  const [remotes, setRemotes] = useState<RemoteSummary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [form, setForm] = useState({ name: '', path: '' });
  const refresh = useCallback(() => void client.invoke('remotes.list', {}).then(setRemotes, setError), [client]);
  useEffect(refresh, [refresh]);
  useEvent('settings.changed', useCallback((e) => e.section === 'remotes' && refresh(), [refresh]));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await client.invoke('remotes.add', form);
      setForm({ name: '', path: '' });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Remotes</h1>
      <form className="inline-form" onSubmit={submit} aria-label="Add a remote">
        <label>
          Name
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="NAS" />
        </label>
        <label>
          Folder
          <input value={form.path} onChange={(e) => setForm({ ...form, path: e.target.value })} placeholder="/mnt/backups" />
        </label>
        <button type="submit">Add remote</button>
      </form>
      <ErrorMessage error={error} />
      <table aria-label="Remotes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Folder</th>
          </tr>
        </thead>
        <tbody>
          {remotes.map((r) => (
            <tr key={r.id}>
              <td>{r.name}</td>
              <td className="mono">{r.path}</td>
            </tr>
          ))}
          {remotes.length === 0 && (
            <tr>
              <td colSpan={2}>No remote yet.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
