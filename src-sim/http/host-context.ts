import type { FaultSet } from '../fault-set.js';
import type { HostName } from '../fault-spec.js';
import type { PoolState } from '../model/pool-state.js';
import type { TransferStats } from '../transfer-stats.js';
import type { HostRole, MethodRegistry } from '../rpc/method-registry.js';

/** What the handlers of one host need: the shared pool, this host's identity and faults, and its peer. */
export interface HostContext {
  readonly name: HostName;
  readonly state: PoolState;
  readonly api: MethodRegistry;
  readonly role: HostRole;
  readonly faults: FaultSet;
  readonly stats: TransferStats;
  /** scheme://host:port of the other host, the target of a 302. */
  peerBaseUrl(): string;
}
