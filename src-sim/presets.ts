import type { PoolSpec, SrSpec, VmSpec } from './model/pool-spec.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const TiB = 1024 ** 4;

export const PRESET_NAMES = ['small-shop'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const DEFAULT_SRS: SrSpec[] = [
  { name: 'Local storage', type: 'lvm', shared: false, physicalSize: 900 * GiB, description: 'Local LVM on xcp-host1' },
  { name: 'NFS storage', type: 'nfs', shared: true, physicalSize: 4 * TiB, description: 'NFS on nas01:/export/xcp' },
];
const DEFAULT_NETWORKS = ['Pool-wide network associated with eth0', 'Pool-wide network associated with eth1'];

/**
 * "small-shop": the pool of a small company, for demos and manual testing. Virtual sizes are realistic, the
 * data actually held is small (about 290 MiB in all), so a full backup of everything takes seconds.
 * Running and halted VMs, one tagged xo:no-bak, one disk marked [NOBAK], a Windows VM with a CD drive.
 */
export function smallShop(): PoolSpec {
  const vms: VmSpec[] = [
    {
      name: 'dc01 (Windows Server 2022)',
      description: 'Domain controller, DNS, DHCP',
      powerState: 'Running',
      memoryMiB: 4096,
      vcpus: 2,
      cdDrive: true,
      otherConfig: { 'install-methods': 'cdrom', base_template_name: 'Windows Server 2022 (64-bit)' },
      disks: [{ name: 'dc01 C:', size: 60 * GiB, allocated: 56 * MiB }],
    },
    {
      name: 'fileserver',
      description: 'Samba shares for the office',
      powerState: 'Running',
      memoryMiB: 4096,
      vcpus: 2,
      networks: DEFAULT_NETWORKS,
      disks: [
        { name: 'fileserver system', size: 32 * GiB, allocated: 32 * MiB },
        { name: 'fileserver shares', size: 100 * GiB, allocated: 64 * MiB },
        { name: 'fileserver scratch [NOBAK]', size: 50 * GiB, allocated: 16 * MiB, sr: 'Local storage' },
      ],
    },
    {
      name: 'erp-db',
      description: 'PostgreSQL for the ERP',
      powerState: 'Running',
      memoryMiB: 8192,
      vcpus: 4,
      disks: [
        { name: 'erp-db os', size: 20 * GiB, allocated: 24 * MiB },
        { name: 'erp-db data', size: 80 * GiB, allocated: 48 * MiB },
      ],
    },
    {
      name: 'mail',
      description: 'Postfix + Dovecot (halted during migration)',
      powerState: 'Halted',
      memoryMiB: 2048,
      vcpus: 2,
      disks: [{ name: 'mail', size: 40 * GiB, allocated: 32 * MiB }],
    },
    {
      name: 'test-vm',
      description: 'Scratch VM, not worth a backup',
      powerState: 'Halted',
      memoryMiB: 1024,
      vcpus: 1,
      tags: ['xo:no-bak'],
      disks: [{ name: 'test-vm disk', size: 8 * GiB, allocated: 16 * MiB, sr: 'Local storage' }],
    },
  ];
  return {
    name: 'Small shop',
    srs: DEFAULT_SRS,
    defaultSr: 'NFS storage',
    networks: DEFAULT_NETWORKS,
    vms,
    withSystemObjects: true,
  };
}

/** `count` halted VMs "vm-01"… with one disk each, for tests and benchmarks. */
export function uniformPool(count: number, diskSize: number, allocatedFraction: number): PoolSpec {
  const vms: VmSpec[] = Array.from({ length: count }, (_, i) => {
    const name = `vm-${String(i + 1).padStart(2, '0')}`;
    return {
      name,
      powerState: 'Halted',
      memoryMiB: 1024,
      vcpus: 1,
      disks: [{ name: `${name} disk 0`, size: diskSize, allocated: diskSize * allocatedFraction }],
    };
  });
  return {
    name: 'Test pool',
    srs: DEFAULT_SRS,
    defaultSr: 'NFS storage',
    networks: DEFAULT_NETWORKS,
    vms,
    withSystemObjects: true,
  };
}

export function customPool(vms: VmSpec[]): PoolSpec {
  return {
    name: 'Test pool',
    srs: DEFAULT_SRS,
    defaultSr: 'NFS storage',
    networks: DEFAULT_NETWORKS,
    vms,
    withSystemObjects: true,
  };
}

export function preset(name: PresetName): PoolSpec {
  switch (name) {
    case 'small-shop':
      return smallShop();
  }
}
