import { useState, type FormEvent } from 'react';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import { useClient } from '../../client/client-context';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';

type Probe = ResponseOf<'hosts.probe'>;

/** Adding a pool: its address and login, then its certificate fingerprint for the admin to approve. */
export function AddPoolPanel() {
  const client = useClient();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [probe, setProbe] = useState<Probe | null>(null);
  const [form, setForm] = useState({ url: '', username: 'root', password: '' });
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

  const changed = probe?.fingerprint && probe.knownFingerprint && probe.knownFingerprint !== probe.fingerprint;
  return (
    <div className="panel">
      <h2>Add a pool</h2>
      <form className="inline-form" onSubmit={(e) => void submit(e)} aria-label="Add a pool">
        <label>
          Pool address
          <input
            value={form.url}
            onChange={(e) => setForm({ ...form, url: e.target.value })}
            placeholder="https://xcp-host"
            autoComplete="url"
          />
        </label>
        <label>
          Username
          <input
            value={form.username}
            onChange={(e) => setForm({ ...form, username: e.target.value })}
            autoComplete="username"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.target.value })}
            autoComplete="current-password"
          />
        </label>
        <button type="submit" disabled={busy}>
          Connect
        </button>
      </form>
      {probe && probe.fingerprint && (
        <div
          className={changed ? 'notice warning' : 'notice'}
          role="dialog"
          aria-label={changed ? 'Certificate changed' : 'Approve certificate'}
        >
          {changed ? (
            <>
              <p>
                <strong>The certificate of {probe.url} has changed.</strong> This can mean the host was reinstalled or
                its certificate renewed — or that something is impersonating it.
              </p>
              <dl className="stats" style={{ gridTemplateColumns: '1fr' }}>
                <div className="stat">
                  <dt>You approved</dt>
                  <dd className="mono" data-testid="known-fingerprint">
                    {probe.knownFingerprint}
                  </dd>
                </div>
                <div className="stat">
                  <dt>It now presents</dt>
                  <dd className="mono" data-testid="probe-fingerprint">
                    {probe.fingerprint}
                  </dd>
                </div>
              </dl>
              <p className="hint">
                Approve only if you know why it changed; check it on the host's console first (command below).
              </p>
            </>
          ) : (
            <p>
              {probe.url} presents a certificate with SHA-256 fingerprint{' '}
              <span className="mono" data-testid="probe-fingerprint">
                {probe.fingerprint}
              </span>
              . Check it on the host's console before approving.
            </p>
          )}
          <p className="mono muted">openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem</p>
          <button type="button" disabled={busy} onClick={() => void add(probe.fingerprint!)}>
            {changed ? 'Approve the new certificate and add pool' : 'Approve and add pool'}
          </button>{' '}
          <button type="button" className="secondary" onClick={() => setProbe(null)}>
            Cancel
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
