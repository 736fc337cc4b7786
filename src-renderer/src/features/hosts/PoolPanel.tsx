import { poolName } from '../../shared/data/pool-name';
import { useCallback, useEffect, useState } from 'react';
import type { HostConnectionState, HostSummary } from '../../../../src-shared/contract/hosts';
import type { ResponseOf } from '../../../../src-shared/contract/index';
import type { Inventory } from '../../../../src-shared/contract/inventory';
import { useClient } from '../../client/client-context';
import type { newestPointByVm } from '../../shared/data/use-points';
import type { RunStore } from '../../shared/runs/run-store';
import { ConfirmDialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { InventoryTree } from './InventoryTree';

type Probe = ResponseOf<'hosts.probe'>;

function connectionBadge(state: HostConnectionState | undefined, hasInventory: boolean): [string, string] {
  if (!state) return hasInventory ? ['connected', 'ok'] : ['not connected yet', ''];
  if (state.state === 'connected') return ['connected', 'ok'];
  if (state.state === 'connecting') return ['connecting…', 'info'];
  return [state.error?.code === 'CERTIFICATE_CHANGED' ? 'certificate changed' : 'cannot connect', 'bad'];
}

/** One pool: its connection, its certificate (and a changed one to trust), its inventory. */
export function PoolPanel(props: {
  host: HostSummary;
  inventory: Inventory | null;
  state: HostConnectionState | undefined;
  error: unknown;
  newest: ReturnType<typeof newestPointByVm>;
  store: RunStore;
  onBackup: (vm: { uuid: string; name: string }) => void;
}) {
  const { host: h, inventory: inv, state } = props;
  const client = useClient();
  const [removing, setRemoving] = useState(false);
  const [removeError, setRemoveError] = useState<unknown>(null);
  const [probe, setProbe] = useState<Probe | null>(null);
  const [confirmTrust, setConfirmTrust] = useState(false);
  const [trusting, setTrusting] = useState(false);
  const [trustError, setTrustError] = useState<unknown>(null);
  const certChanged = state?.state === 'error' && state.error?.code === 'CERTIFICATE_CHANGED';
  const reprobe = useCallback(
    () => client.invoke('hosts.probe', { url: h.url }).then(setProbe, () => setProbe(null)),
    [client, h.url],
  );
  useEffect(() => {
    if (certChanged) void reprobe();
  }, [certChanged, reprobe]);
  const [badge, tone] = connectionBadge(state, inv !== null);
  const title = poolName(h, inv);

  const remove = async () => {
    try {
      await client.invoke('hosts.remove', { id: h.id });
    } catch (err) {
      setRemoveError(err);
    }
  };

  // In place: the engine trusts exactly the fingerprint shown here (and refuses if the host now shows another),
  // so the pool keeps its id, password and jobs.
  const trust = async (fingerprint: string) => {
    setTrusting(true);
    setTrustError(null);
    try {
      await client.invoke('hosts.approveCertificate', { hostId: h.id, fingerprint });
    } catch (err) {
      setTrustError(err);
      void reprobe();
    } finally {
      setTrusting(false);
    }
  };
  const presented = probe?.fingerprint ?? null;

  return (
    <section className="panel" aria-label={`Pool ${title}`}>
      <div className="run-head">
        <h2>{title}</h2>
        <span className={`badge ${tone}`}>{badge}</span>
        <span className="muted">
          {h.url} · user {h.username}
        </span>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => setRemoving(true)}
            aria-label={`Remove pool ${title}`}
          >
            Remove
          </button>
        </div>
      </div>
      <p className="muted">
        Certificate: <span className="mono">{h.trustedFingerprint ?? 'none (plain HTTP)'}</span>
      </p>
      {certChanged && (
        <div className="notice warning" role="alert">
          <strong>
            The certificate of {h.url} has changed; Sluice will not talk to this pool until you approve the new one.
          </strong>
          <div>
            Approved: <span className="mono">{h.trustedFingerprint}</span>
          </div>
          <div>
            Now presented: <span className="mono">{probe?.fingerprint ?? '…'}</span>
          </div>
          <div className="hint">
            If the host was reinstalled or its certificate renewed, check the new fingerprint on its console (
            <span className="mono">openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem</span>) and
            trust it: the pool keeps its password and jobs. If you do not know why it changed, do not: something may be
            impersonating the host.
          </div>
          <button
            type="button"
            className="secondary"
            disabled={!presented || trusting}
            onClick={() => setConfirmTrust(true)}
          >
            Trust the new certificate
          </button>
        </div>
      )}
      {certChanged && <ErrorMessage error={trustError} title="Sluice did not trust the new certificate." />}
      {!certChanged && <ErrorMessage error={props.error} title={`Sluice cannot read the pool at ${h.url}.`} />}
      <ErrorMessage error={removeError} />
      {inv && (
        <InventoryTree
          hostId={h.id}
          inventory={inv}
          newest={props.newest}
          store={props.store}
          onBackup={props.onBackup}
        />
      )}
      <ConfirmDialog
        title={`Trust the new certificate of ${title}?`}
        open={confirmTrust && presented !== null}
        confirmLabel="Trust this certificate"
        cancelLabel="Keep refusing"
        onConfirm={() => presented && void trust(presented)}
        onClose={() => setConfirmTrust(false)}
      >
        <p>
          Sluice will talk to {h.url} only if it presents exactly this certificate, and refuse the old one from then on.
        </p>
        <dl className="stats" style={{ gridTemplateColumns: '1fr' }}>
          <div className="stat">
            <dt>You approved before</dt>
            <dd
              className="mono"
              style={{ whiteSpace: 'normal', overflowWrap: 'anywhere' }}
              data-testid="trusted-fingerprint"
            >
              {h.trustedFingerprint}
            </dd>
          </div>
          <div className="stat">
            <dt>It presents now (to trust)</dt>
            <dd
              className="mono"
              style={{ whiteSpace: 'normal', overflowWrap: 'anywhere' }}
              data-testid="new-fingerprint"
            >
              {presented}
            </dd>
          </div>
        </dl>
        <p className="hint">Trust it only if this matches what the host's console shows.</p>
      </ConfirmDialog>
      <ConfirmDialog
        title={`Remove the pool ${title}?`}
        open={removing}
        confirmLabel="Remove pool"
        cancelLabel="Keep it"
        danger
        onConfirm={() => void remove()}
        onClose={() => setRemoving(false)}
      >
        <p>Sluice forgets its address and password. Backups already made stay on the remotes.</p>
      </ConfirmDialog>
    </section>
  );
}
