import { useState } from 'react';
import type { Inventory } from '../../../../src-shared/contract/inventory';
import { formatAge, formatBytes } from '../../../../src-shared/units';
import { NO_BACKUP_TAG } from '../../../../src-shared/vm-tags';
import type { newestPointByVm } from '../../shared/data/use-points';
import type { RunStore } from '../../shared/runs/run-store';
import { lastRunByVm } from './last-run-by-vm';
import { useRunHistory } from './use-run-history';
import { sharedNames } from '../../shared/data/vm-names';
import { VmName } from '../../shared/ui/VmName';

type Vm = Inventory['vms'][number];

const isExcluded = (vm: Vm) => vm.tags.includes(NO_BACKUP_TAG);

/** A pool’s VMs grouped by the host they run on, each with its last backup and “Back up now”. */
export function InventoryTree(props: {
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
  const shared = sharedNames(inv.vms);
  return (
    <ul className="tree" aria-label={`Inventory of ${inv.pool?.name ?? 'the pool'}`}>
      {groups.map((g) => (
        <HostNode
          key={g.key}
          name={g.name}
          detail={g.detail}
          vms={g.vms}
          {...props}
          lastRuns={lastRuns}
          shared={shared}
        />
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
  shared: ReadonlySet<string>;
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
                    shared={props.shared}
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
  shared,
  onBackup,
}: {
  vm: Vm;
  newest: ReturnType<typeof newestPointByVm>;
  lastRuns: ReturnType<typeof lastRunByVm>;
  shared: ReadonlySet<string>;
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
        <strong>
          <VmName vm={vm} shared={shared} />
        </strong>
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
              ? `Tagged ${NO_BACKUP_TAG}: Sluice never backs it up. Remove the tag on the host to include it.`
              : undefined
          }
        >
          Back up now
        </button>
      </td>
    </tr>
  );
}
