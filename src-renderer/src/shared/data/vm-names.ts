/**
 * The names two or more distinct VMs share among those shown together (a restored copy named like its
 * original, say): wherever such a name shows, the uuid goes with it, or the admin cannot tell which is which.
 */
export function sharedNames(vms: Iterable<{ uuid: string; name: string }>): ReadonlySet<string> {
  const uuidsByName = new Map<string, Set<string>>();
  for (const v of vms) uuidsByName.set(v.name, (uuidsByName.get(v.name) ?? new Set()).add(v.uuid));
  return new Set([...uuidsByName].filter(([, uuids]) => uuids.size > 1).map(([name]) => name));
}

/** How a VM is named to assistive technology: its name, and its uuid when the name alone is ambiguous. */
export function vmLabel(vm: { uuid: string; name: string }, shared: ReadonlySet<string>): string {
  return shared.has(vm.name) ? `${vm.name} (${vm.uuid})` : vm.name;
}
