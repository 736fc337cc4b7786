import { macGenerator } from './mac-address.js';
import { addNetworks } from './network-builder.js';
import { NULL_REF } from './refs.js';
import type { DiskSpec, PoolSpec, VmSpec } from './pool-spec.js';
import type { PoolState } from './pool-state.js';
import type { StringMap } from './values.js';

const MiB = 1024 * 1024;
const DEFAULT_ALLOCATED_SHARE = 0.25;

export function softwareVersion(oldHost: boolean, hostname: string): StringMap {
  return oldHost
    ? {
        product_version: '7.5.0',
        product_brand: 'XenServer',
        platform_version: '2.5.0',
        platform_name: 'XCP',
        xapi: '1.1',
        xen: '4.7.5-5.0',
        hostname,
        date: '2018-05-11',
        build_number: '14718c',
        linux: '4.4.0+10',
        network_backend: 'openvswitch',
        db_schema: '5.140',
      }
    : {
        product_version: '8.3.0',
        product_brand: 'XCP-ng',
        platform_version: '3.4.0',
        platform_name: 'XCP',
        xapi: '24.19',
        xapi_build: '24.19.2',
        xen: '4.17.5-3',
        hostname,
        date: '2024-10-01',
        build_number: 'cloud',
        linux: '4.19.0+1',
        network_backend: 'openvswitch',
        db_schema: '5.786',
      };
}

/** Fills the store with the pool, its two hosts, SRs, networks and VMs (with their disks' content). */
export function buildPool(state: PoolState, spec: PoolSpec, seed: number): void {
  const { store, config } = state;
  const nextMac = macGenerator(seed);
  const apiMinor = config.oldHost ? 10 : 21;

  const hostNames = ['xcp-host1', 'xcp-host2'];
  const hosts = hostNames.map((name) =>
    store.add('host', {
      name_label: name,
      hostname: name,
      API_version_minor: apiMinor,
      software_version: softwareVersion(config.oldHost, name),
      editions: config.oldHost ? ['free', 'standard'] : ['xcp-ng'],
    }),
  );
  const [coordinator, second] = hosts as [string, string];
  state.coordinatorRef = coordinator;
  state.secondHostRef = second;

  const srRefs = new Map<string, string>();
  spec.srs.forEach((sr, index) => {
    const ref = store.add('SR', {
      name_label: sr.name,
      name_description: sr.description ?? '',
      type: sr.type,
      content_type: sr.type === 'iso' ? 'iso' : 'user',
      shared: sr.shared,
      physical_size: sr.physicalSize,
    });
    srRefs.set(sr.name, ref);
    // A local SR (the first one) is plugged on the coordinator only; shared SRs on every host.
    const pluggedOn = sr.shared ? hosts : [index === 0 ? coordinator : second];
    for (const host of pluggedOn)
      store.add('PBD', {
        host,
        SR: ref,
        device_config: sr.type === 'nfs' ? { server: '10.0.0.20', serverpath: '/export/xcp' } : { device: '/dev/sdb' },
      });
  });
  const defaultSr = srRefs.get(spec.defaultSr) ?? [...srRefs.values()][0] ?? NULL_REF;

  const networkRefs = addNetworks(state, spec.networks, hosts, seed);

  state.poolRef = store.add('pool', {
    name_label: spec.name,
    master: coordinator,
    default_SR: defaultSr,
    suspend_image_SR: defaultSr,
    crash_dump_SR: defaultSr,
  });

  if (spec.withSystemObjects) addSystemObjects(state, hosts, hostNames);

  let domid = 1;
  for (const vm of spec.vms) {
    const running = vm.powerState === 'Running';
    addVm(state, vm, {
      srFor: (disk) => (disk.sr !== undefined ? srRefs.get(disk.sr) : undefined) ?? defaultSr,
      networkFor: (name) => networkRefs.get(name) ?? [...networkRefs.values()][0] ?? NULL_REF,
      defaultNetworks: spec.networks.slice(0, 1),
      nextMac,
      domid: running ? domid++ : -1,
    });
  }
}

interface VmPlacement {
  srFor: (disk: DiskSpec) => string;
  networkFor: (name: string) => string;
  defaultNetworks: string[];
  nextMac: () => string;
  domid: number;
}

function addVm(state: PoolState, spec: VmSpec, placement: VmPlacement): string {
  const { store } = state;
  const running = spec.powerState === 'Running';
  const memory = (spec.memoryMiB ?? 2048) * MiB;
  const vcpus = spec.vcpus ?? 2;
  const vm = store.add('VM', {
    name_label: spec.name,
    name_description: spec.description ?? '',
    power_state: running ? 'Running' : 'Halted',
    resident_on: running ? state.coordinatorRef : NULL_REF,
    domid: placement.domid,
    memory_static_max: memory,
    memory_dynamic_max: memory,
    memory_dynamic_min: memory,
    memory_target: running ? memory : 0,
    memory_static_min: Math.min(memory, 512 * MiB),
    VCPUs_max: vcpus,
    VCPUs_at_startup: vcpus,
    tags: spec.tags ?? [],
    other_config: spec.otherConfig ?? {},
  });

  spec.disks.forEach((disk, position) => {
    const sr = placement.srFor(disk);
    const vdi = store.add('VDI', {
      name_label: disk.name,
      name_description: 'Created by template provisioner',
      SR: sr,
      virtual_size: disk.size,
      type: 'system',
    });
    const allocated = disk.allocated ?? disk.size * DEFAULT_ALLOCATED_SHARE;
    state.disks.create(vdi, disk.size, disk.size === 0 ? 0 : allocated / disk.size);
    state.refreshVdiUsage(vdi);
    store.add('VBD', {
      VM: vm,
      VDI: vdi,
      device: `xvd${String.fromCharCode(97 + position)}`,
      userdevice: String(position),
      bootable: position === 0,
      currently_attached: running,
    });
  });
  if (spec.cdDrive) {
    store.add('VBD', {
      VM: vm,
      VDI: NULL_REF,
      device: 'xvdd',
      userdevice: '3',
      type: 'CD',
      mode: 'RO',
      empty: true,
      currently_attached: running,
    });
  }
  const networks = spec.networks ?? placement.defaultNetworks;
  networks.forEach((name, device) => {
    store.add('VIF', {
      VM: vm,
      network: placement.networkFor(name),
      device: String(device),
      MAC: placement.nextMac(),
      currently_attached: running,
    });
  });
  return vm;
}

function addSystemObjects(state: PoolState, hosts: string[], hostNames: string[]): void {
  const { store } = state;
  hosts.forEach((host, i) => {
    const dom0 = store.add('VM', {
      name_label: `Control domain on host: ${hostNames[i]}`,
      name_description: 'The domain which manages physical devices and manages other domains',
      is_control_domain: true,
      power_state: 'Running',
      resident_on: host,
      domid: 0,
      domain_type: 'pv',
    });
    store.update('host', host, { control_domain: dom0 });
  });
  for (const name of ['Debian Bookworm 12', 'Windows Server 2022 (64-bit)']) {
    store.add('VM', {
      name_label: name,
      name_description: `Template for ${name}`,
      is_a_template: true,
      is_default_template: true,
      other_config: { default_template: 'true', install_methods: 'cdrom', instant: 'true' },
      reference_label: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    });
  }
}
