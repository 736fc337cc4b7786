/** A VM's name, followed by its uuid when another VM shown alongside has the same name (see sharedNames). */
export function VmName({ vm, shared }: { vm: { uuid: string; name: string }; shared: ReadonlySet<string> }) {
  if (!shared.has(vm.name)) return <>{vm.name}</>;
  return (
    <>
      {vm.name}{' '}
      <span className="muted mono vm-uuid" data-testid="vm-uuid">
        {vm.uuid}
      </span>
    </>
  );
}
