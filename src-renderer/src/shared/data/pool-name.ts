import type { HostSummary } from '../../../../src-shared/contract/hosts';
import type { Inventory } from '../../../../src-shared/contract/inventory';

/**
 * What the admin calls a pool: its own name ("Small shop") once its inventory is read; until then the label it
 * was added under, which defaults to the address.
 */
export function poolName(host: HostSummary, inventory: Inventory | null | undefined): string {
  return inventory?.pool?.name || host.label;
}
