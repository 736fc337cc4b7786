import { useMemo, useState } from 'react';
import type { Inventory } from '../../../../src-shared/contract/inventory';
import type { JobForm } from './job-form-model';
import { FieldIssue } from '../../shared/ui/FieldIssue';
import { sharedNames, vmLabel } from '../../shared/data/vm-names';
import { VmName } from '../../shared/ui/VmName';

type Selection = Pick<JobForm, 'selection' | 'vmUuids' | 'tags' | 'excludeVmUuids'>;

/** Which VMs a job backs up: picked ones (with a search), every VM with a tag, or the whole pool minus exclusions. */
export function VmPicker({
  inventory,
  value,
  onChange,
  issue,
}: {
  inventory: Inventory | null | undefined;
  value: Selection;
  onChange: (s: Selection) => void;
  issue: string | undefined;
}) {
  const [search, setSearch] = useState('');
  const vms = useMemo(() => (inventory?.vms ?? []).slice().sort((a, b) => a.name.localeCompare(b.name)), [inventory]);
  const shared = useMemo(() => sharedNames(vms), [vms]);
  const tags = useMemo(() => [...new Set(vms.flatMap((v) => v.tags))].sort(), [vms]);
  const q = search.trim().toLowerCase();
  const shown = q
    ? vms.filter((v) => v.name.toLowerCase().includes(q) || v.tags.some((t) => t.toLowerCase().includes(q)))
    : vms;
  const chosen = value.selection === 'vms' ? value.vmUuids : value.excludeVmUuids;
  const toggle = (uuid: string, on: boolean) => {
    const next = on ? [...chosen, uuid] : chosen.filter((u) => u !== uuid);
    onChange(value.selection === 'vms' ? { ...value, vmUuids: next } : { ...value, excludeVmUuids: next });
  };
  const matchesTags = (t: string[]) =>
    value.selection === 'pool' || (value.selection === 'tags' && t.some((x) => value.tags.includes(x)));

  return (
    <fieldset aria-describedby={issue ? 'vms' : undefined} aria-invalid={issue ? true : undefined}>
      <legend>Virtual machines</legend>
      {(['vms', 'tags', 'pool'] as const).map((k) => (
        <label key={k} className="radio">
          <input
            type="radio"
            name="selection"
            checked={value.selection === k}
            onChange={() => onChange({ ...value, selection: k })}
          />
          {k === 'vms'
            ? 'These VMs'
            : k === 'tags'
              ? 'Every VM with one of these tags (new ones included)'
              : 'Every VM of the pool'}
        </label>
      ))}
      {value.selection === 'tags' && (
        <div className="tag-picker" aria-label="Tags">
          {tags.length === 0 && <span className="muted">No VM of this pool has a tag.</span>}
          {tags.map((t) => (
            <label key={t} className="check">
              <input
                type="checkbox"
                checked={value.tags.includes(t)}
                onChange={(e) =>
                  onChange({
                    ...value,
                    tags: e.target.checked ? [...value.tags, t] : value.tags.filter((x) => x !== t),
                  })
                }
              />
              <span className="tag">{t}</span>
            </label>
          ))}
        </div>
      )}
      <input
        type="search"
        className="vm-search"
        placeholder="Search VMs by name or tag"
        aria-label="Search VMs"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
      />
      {!inventory && (
        <p className="muted">The pool's inventory is not available yet; its VMs appear once Sluice is connected.</p>
      )}
      <div className="vm-pick-list">
        {shown.map((v) => (
          <label key={v.uuid} className="check">
            <input
              type="checkbox"
              checked={chosen.includes(v.uuid)}
              onChange={(e) => toggle(v.uuid, e.target.checked)}
              aria-label={value.selection === 'vms' ? `Back up ${vmLabel(v, shared)}` : `Exclude ${vmLabel(v, shared)}`}
            />
            {value.selection === 'vms' ? '' : 'exclude '}
            <VmName vm={v} shared={shared} />
            {v.tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
            {value.selection !== 'vms' && matchesTags(v.tags) && !chosen.includes(v.uuid) && (
              <span className="badge ok">included</span>
            )}
          </label>
        ))}
      </div>
      <FieldIssue id="vms" message={issue} />
    </fieldset>
  );
}
