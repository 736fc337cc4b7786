import { macGenerator } from './mac-address.js';
import type { PoolState } from './pool-state.js';

// A real host has one PIF per NIC, each on the network bridged to it (xenbr<i> on eth<i>), so every network
// shows a PIF on every host and a client that maps VIFs to physical NICs by network finds one. The first NIC
// carries the management interface: its IP is the host's address (every simulated host listens on loopback).

/** Adds the pool's networks and their PIFs on every host; returns the network ref of each name. */
export function addNetworks(
  state: PoolState,
  names: readonly string[],
  hosts: readonly string[],
  seed: number,
): Map<string, string> {
  const { store } = state;
  // Own MAC sequence: VIF MACs of a preset stay what they were before PIFs existed.
  const nextMac = macGenerator(seed ^ 0x50494653);
  const refs = new Map<string, string>();
  names.forEach((name, i) => {
    const network = store.add('network', { name_label: name, bridge: `xenbr${i}` });
    refs.set(name, network);
    for (const host of hosts) {
      const management = i === 0;
      store.add('PIF', {
        device: `eth${i}`,
        network,
        host,
        MAC: nextMac(),
        management,
        disallow_unplug: management,
        ...(management
          ? { ip_configuration_mode: 'Static', IP: '127.0.0.1', netmask: '255.0.0.0' }
          : { ip_configuration_mode: 'None' }),
      });
    }
  });
  return refs;
}
