import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { HostSummary } from '../../../src-shared/ipc-contract';
import { useClient, useEvent } from '../client/client-context';
import { ErrorMessage } from '../components/ErrorMessage';

export function HostsPage() {
  const client = useClient();
  const [hosts, setHosts] = useState<HostSummary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [form, setForm] = useState({ url: '', username: 'root', password: '' });
  const refresh = useCallback(() => void client.invoke('hosts.list', {}).then(setHosts, setError), [client]);
  useEffect(refresh, [refresh]);
  useEvent('settings.changed', useCallback((e) => e.section === 'hosts' && refresh(), [refresh]));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await client.invoke('hosts.add', form);
      setForm({ url: '', username: 'root', password: '' });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Hosts</h1>
      <form className="inline-form" onSubmit={submit} aria-label="Add a pool">
        <label>
          Pool address
          <input value={form.url} onChange={(e) => setForm({ ...form, url: e.target.value })} placeholder="https://xcp-host" />
        </label>
        <label>
          Username
          <input value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />
        </label>
        <label>
          Password
          <input type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
        </label>
        <button type="submit">Add pool</button>
      </form>
      <ErrorMessage error={error} />
      <table aria-label="Pools">
        <thead>
          <tr>
            <th>Name</th>
            <th>Address</th>
            <th>User</th>
            <th>Certificate</th>
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => (
            <tr key={h.id}>
              <td>{h.label}</td>
              <td>{h.url}</td>
              <td>{h.username}</td>
              <td className="mono">{h.trustedFingerprint ?? 'not yet approved'}</td>
            </tr>
          ))}
          {hosts.length === 0 && (
            <tr>
              <td colSpan={4}>No pool yet.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
