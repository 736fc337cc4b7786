import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unmountedFstabMount } from '../../src-main/remotes/remote-marker.js';
import { tempDirs } from '../helpers/temp-dir.js';

// A cron `sluice backup --remote /mnt/nas/backups` after the NAS failed to mount, on a machine that never ran Sluice
// before (no marker remembered): /etc/fstab says /mnt/nas is a mount point, /proc/self/mountinfo says nothing is
// mounted there, so the remote is refused.
const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

function tables(fstab: string, mountinfo: string) {
  const dir = temp();
  writeFileSync(path.join(dir, 'fstab'), fstab);
  writeFileSync(path.join(dir, 'mountinfo'), mountinfo);
  return { fstab: path.join(dir, 'fstab'), mountinfo: path.join(dir, 'mountinfo') };
}

const FSTAB = [
  '# /etc/fstab: static file system information.',
  'UUID=1b2c / ext4 errors=remount-ro 0 1',
  'UUID=9f00 none swap sw 0 0',
  '//nas/backup /mnt/nas cifs credentials=/root/.nas,vers=3.0,_netdev 0 0',
  '//nas/other\\040share /mnt/my\\040nas cifs credentials=/root/.nas 0 0',
  '',
].join('\n');
const ROOT_ONLY = '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n';
const WITH_NAS = `${ROOT_ONLY}40 22 0:50 / /mnt/nas rw,relatime - cifs //nas/backup rw\n`;

describe.skipIf(process.platform !== 'linux')('a folder under an fstab mount point that is not mounted', () => {
  it('names the mount point for the folder or anything under it, and nothing once it is mounted', async () => {
    const t = tables(FSTAB, ROOT_ONLY);
    expect(await unmountedFstabMount('/mnt/nas', t)).toBe('/mnt/nas');
    expect(await unmountedFstabMount('/mnt/nas/backups/', t)).toBe('/mnt/nas');
    expect(await unmountedFstabMount('/mnt/my nas/x', t)).toBe('/mnt/my nas');
    expect(await unmountedFstabMount('/mnt/nasty', t)).toBeUndefined(); // not under /mnt/nas
    expect(await unmountedFstabMount('/srv/backups', t)).toBeUndefined(); // under / only: never refused for that
    expect(await unmountedFstabMount('/mnt/nas/backups', tables(FSTAB, WITH_NAS))).toBeUndefined();
  });

  it('says nothing when the tables cannot be read', async () => {
    expect(
      await unmountedFstabMount('/mnt/nas', { fstab: path.join(temp(), 'none'), mountinfo: '/proc/self/mountinfo' }),
    ).toBeUndefined();
  });

  it.skipIf(process.getuid?.() !== 0)('reads the real mount table: a bind mount mounted, then not', async () => {
    const base = temp();
    const nas = path.join(base, 'nas');
    const backing = path.join(base, 'backing');
    mkdirSync(nas);
    mkdirSync(backing);
    const t = { fstab: tables(`${backing} ${nas} none bind 0 0\n`, '').fstab, mountinfo: '/proc/self/mountinfo' };
    expect(await unmountedFstabMount(path.join(nas, 'backups'), t)).toBe(nas);
    execFileSync('mount', ['--bind', backing, nas]);
    try {
      expect(await unmountedFstabMount(path.join(nas, 'backups'), t)).toBeUndefined();
    } finally {
      execFileSync('umount', [nas]);
    }
  });
});
