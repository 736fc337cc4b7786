import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { HostConnectionState, HostSummary } from '../../../src-shared/contract/hosts';
import type { ResponseOf } from '../../../src-shared/contract/index';
import type { Inventory } from '../../../src-shared/contract/inventory';
import { useRunStore, useStoreVersion } from '../app/runs-context';
import { useClient } from '../client/client-context';
import { BackupNowDialog, type BackupTarget } from '../components/BackupNowDialog';
import { ConfirmDialog } from '../components/Dialog';
import { ErrorMessage } from '../components/ErrorMessage';
import { useRunHistory } from '../data/use-run-history';
import { newestPointByVm, useRemotePoints } from '../data/use-points';
import { usePools } from '../data/use-pools';
import { formatAge, formatBytes } from '../format/units';
import { lastRunByVm } from '../transfer/last-run-by-vm';
import type { RunStore } from '../transfer/run-store';

type Probe = ResponseOf<'hosts.probe'>;
type Vm = Inventory['vms'][number];

export const NO_BAK_TAG = 'xo:no-bak';
export const isExcluded = (vm: Vm) => vm.tags.includes(NO_BAK_TAG);

export function HostsPage() {
  const client = useClient();
  const pools = usePools();
  const points = useRemotePoints();
  const store = useRunStore();
  useStoreVersion(store, 1000);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [probe, setProbe] = useState<Probe | null>(null);
  const [form, setForm] = useState({ url: '', username: 'root', password: '' });
  const [target, setTarget] = useState<BackupTarget | null>(null);

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
  const newest = newestPointByVm(points.points);

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Hosts</h1>
      <div className="panel">
        <h2>Add a pool</h2>
        <form className="inline-form" onSubmit={submit} aria-label="Add a pool">
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

      {pools.hosts.length === 0 && !pools.loading && (
        <p className="muted">No pool yet. Add one above: its address, a user (often root) and the password.</p>
      )}
      {pools.hosts.map((h) => (
        <PoolPanel
          key={h.id}
          host={h}
          inventory={pools.inventories[h.id] ?? null}
          state={pools.states[h.id]}
          error={pools.errors[h.id]}
          newest={newest}
          store={store}
          onBackup={(vm) => setTarget({ hostId: h.id, vm })}
        />
      ))}
      <BackupNowDialog target={target} onClose={() => setTarget(null)} />
    </section>
  );
}

function connectionBadge(state: HostConnectionState | undefined, hasInventory: boolean): [string, string] {
  if (!state) return hasInventory ? ['connected', 'ok'] : ['not connected yet', ''];
  if (state.state === 'connected') return ['connected', 'ok'];
  if (state.state === 'connecting') return ['connecting…', 'info'];
  return [state.error?.code === 'CERTIFICATE_CHANGED' ? 'certificate changed' : 'cannot connect', 'bad'];
}

function PoolPanel(props: {
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
  const title = inv?.pool?.name ? `${inv.pool.name}` : h.label;

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

function InventoryTree(props: {
  hostId: string;
  inventory: Inventory;
  newest: ReturnType<typeof newestPointByVm>;
  store: RunStore;
  onBackup: (vm: { uuid: string; name: string }) => void;
}) {
  const { inventory: inv } = props;
  const groups: Array<{ key: string; name: string; detail: string; vms: Vm[] }> = inv.hosts.map((host) => ({
    key: host.uuid,
    name: host.name,
    detail: `${host.address} · XCP-ng/XenServer ${host.version}`,
    vms: inv.vms.filter((vm) => vm.residentOn === host.uuid),
  }));
  const elsewhere = inv.vms.filter((vm) => !vm.residentOn || !inv.hosts.some((h) => h.uuid === vm.residentOn));
  if (elsewhere.length)
    groups.push({ key: 'halted', name: 'Not running on a host', detail: 'halted or suspended VMs', vms: elsewhere });
  const lastRuns = lastRunByVm(useRunHistory(), props.store.runs());
  return (
    <ul className="tree" aria-label={`Inventory of ${inv.pool?.name ?? 'the pool'}`}>
      {groups.map((g) => (
        <HostNode key={g.key} name={g.name} detail={g.detail} vms={g.vms} {...props} lastRuns={lastRuns} />
      ))}
    </ul>
  );
}

function HostNode(props: {
  name: string;
  detail: string;
  vms: Vm[];
  newest: ReturnType<typeof newestPointByVm>;
  lastRuns: ReturnType<typeof lastRunByVm>;
  onBackup: (vm: { uuid: string; name: string }) => void;
}) {
  const [open, setOpen] = useState(true);
  const listId = `vms-${props.name.replace(/\W+/g, '-')}`;
  return (
    <li>
      <div className="tree-row">
        <button
          type="button"
          className="tree-toggle"
          aria-expanded={open}
          aria-controls={listId}
          aria-label={`${open ? 'Collapse' : 'Expand'} ${props.name}`}
          onClick={() => setOpen(!open)}
        >
          {open ? '▾' : '▸'}
        </button>
        <h3 style={{ margin: 0 }}>{props.name}</h3>
        <span className="muted">{props.detail}</span>
        <span className="badge">
          {props.vms.length} VM{props.vms.length === 1 ? '' : 's'}
        </span>
      </div>
      {open && (
        <div id={listId}>
          {props.vms.length === 0 ? (
            <p className="muted" style={{ paddingLeft: 34 }}>
              No VM.
            </p>
          ) : (
            <table className="vm-table" aria-label={`VMs on ${props.name}`}>
              <thead>
                <tr>
                  <th>VM</th>
                  <th>Power</th>
                  <th>Disks</th>
                  <th>Tags</th>
                  <th>Last backup</th>
                  <th>
                    <span className="muted">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {props.vms.map((vm) => (
                  <VmRow
                    key={vm.uuid}
                    vm={vm}
                    newest={props.newest}
                    lastRuns={props.lastRuns}
                    onBackup={props.onBackup}
                  />
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </li>
  );
}

function VmRow({
  vm,
  newest,
  lastRuns,
  onBackup,
}: {
  vm: Vm;
  newest: ReturnType<typeof newestPointByVm>;
  lastRuns: ReturnType<typeof lastRunByVm>;
  onBackup: (vm: { uuid: string; name: string }) => void;
}) {
  const excluded = isExcluded(vm);
  const point = newest.get(vm.uuid);
  const run = lastRuns.get(vm.uuid);
  const failedSincePoint = run && !run.ok && (!point || run.at > point.timestamp);
  const power = vm.powerState === 'Running' ? 'ok' : vm.powerState === 'Halted' ? '' : 'warn';
  return (
    <tr className={excluded ? 'excluded' : undefined} aria-label={vm.name} data-vm-uuid={vm.uuid}>
      <td>
        <strong>{vm.name}</strong>
        {excluded && (
          <>
            {' '}
            <span className="badge warn">excluded</span>
          </>
        )}
      </td>
      <td>
        <span className={`badge ${power}`}>{vm.powerState.toLowerCase()}</span>
      </td>
      <td>
        <ul className="disks">
          {vm.disks.map((d) => (
            <li key={d.vdiUuid}>
              {d.name} <span className="num muted">{formatBytes(d.virtualSize)}</span>
              {d.skipped && (
                <>
                  {' '}
                  <span className="badge warn" title="Its name contains [NOBAK]: backups skip it.">
                    excluded
                  </span>
                </>
              )}
            </li>
          ))}
          {vm.disks.length === 0 && <li className="muted">no disk</li>}
        </ul>
      </td>
      <td>
        {vm.tags.map((t) => (
          <span key={t} className="tag">
            {t}
          </span>
        ))}
      </td>
      <td data-testid="last-backup">
        {failedSincePoint ? (
          <span className="badge bad" title={run.message}>
            {run.cancelled ? 'cancelled' : 'failed'} {formatAge(Date.parse(run.at), Date.now())}
          </span>
        ) : point ? (
          <span className="badge ok">
            {point.mode} · {formatAge(Date.parse(point.timestamp), Date.now())}
          </span>
        ) : (
          <span className="muted">{excluded ? 'excluded from backups' : 'never'}</span>
        )}
      </td>
      <td>
        <button
          type="button"
          onClick={() => onBackup({ uuid: vm.uuid, name: vm.name })}
          disabled={excluded}
          aria-label={`Back up ${vm.name} now`}
          title={
            excluded
              ? 'Tagged xo:no-bak: Sluice never backs it up. Remove the tag on the host to include it.'
              : undefined
          }
        >
          Back up now
        </button>
      </td>
    </tr>
  );
}
