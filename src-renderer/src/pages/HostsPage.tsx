import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { HostSummary, ResponseOf } from '../../../src-shared/ipc-contract';
import { useClient, useEvent } from '../client/client-context';
import { ErrorMessage } from '../components/ErrorMessage';

type Probe = ResponseOf<'hosts.probe'>;

export function HostsPage() {
  const client = useClient();
  const [hosts, setHosts] = useState<HostSummary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [probe, setProbe] = useState<Probe | null>(null);
  const [form, setForm] = useState({ url: '', username: 'root', password: '' });
  const refresh = useCallback(() => void client.invoke('hosts.list', {}).then(setHosts, setError), [client]);
  useEffect(refresh, [refresh]);
  useEvent('settings.changed', useCallback((e) => e.section === 'hosts' && refresh(), [refresh]));

  const add = async (trustedFingerprint?: string) => {
    setBusy(true);
    setError(null);
    try {
      await client.invoke('hosts.add', { ...form, ...(trustedFingerprint ? { trustedFingerprint } : {}) });
      setForm({ url: '', username: 'root', password: '' });
      setProbe(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  // First the certificate: a fresh host has a self-signed one, which only the admin can vouch for.
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setProbe(null);
    setBusy(true);
    try {
      const p = await client.invoke('hosts.probe', { url: form.url });
      if (p.fingerprint === null) {
        setBusy(false);
        await add();
        return;
      }
      setProbe(p);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
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
        <button type="submit" disabled={busy}>
          Connect
        </button>
      </form>
      {probe && probe.fingerprint && (
        <div className={probe.knownFingerprint && probe.knownFingerprint !== probe.fingerprint ? 'notice warning' : 'notice'} role="dialog" aria-label="Approve certificate">
          {probe.knownFingerprint && probe.knownFingerprint !== probe.fingerprint ? (
            <p>
              <strong>The certificate of {probe.url} has changed.</strong> You approved <span className="mono">{probe.knownFingerprint}</span>; it now presents{' '}
              <span className="mono">{probe.fingerprint}</span>. Approve only if you know the host was reinstalled or its certificate renewed.
            </p>
          ) : (
            <p>
              {probe.url} presents a certificate with SHA-256 fingerprint <span className="mono" data-testid="probe-fingerprint">{probe.fingerprint}</span>. Check it on the host's
              console (<span className="mono">openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem</span>) before approving.
            </p>
          )}
          <button type="button" disabled={busy} onClick={() => void add(probe.fingerprint!)}>
            Approve and add pool
          </button>{' '}
          <button type="button" className="secondary" onClick={() => setProbe(null)}>
            Cancel
          </button>
        </div>
      )}
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
              <td className="mono">{h.trustedFingerprint ?? 'plain HTTP'}</td>
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
