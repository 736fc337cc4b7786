import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { openRemote } from '../../src-main/remotes/remote-registry.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

function remoteWith(files: Record<string, string>): { remote: FolderRemote; root: string } {
  const root = temp();
  for (const [key, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, key)), { recursive: true });
    writeFileSync(path.join(root, key), data);
  }
  return { remote: new FolderRemote(root), root };
}

describe('FolderRemote', () => {
  it('lists a prefix, stats and reads files whole and by range', async () => {
    const { remote } = remoteWith({ 'a/one.json': '{"x":1}', 'a/vdis/j/d/1.vhd': '0123456789' });
    expect((await remote.list('a')).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'one.json', kind: 'file' },
      { name: 'vdis', kind: 'folder' },
    ]);
    expect(await remote.list('absent')).toEqual([]);
    expect(await remote.stat('a/vdis/j/d/1.vhd')).toMatchObject({ kind: 'file', size: 10 });
    expect(await remote.stat('a/none')).toBeUndefined();
    expect((await remote.read('a/one.json')).toString()).toBe('{"x":1}');
    expect(await remote.readIfExists('a/none.json')).toBeUndefined();
    await expect(remote.read('a/none.json')).rejects.toThrow(/does not exist|not found/i);
    expect((await remote.readRange('a/vdis/j/d/1.vhd', 3, 4)).toString()).toBe('3456');
    expect((await remote.readRange('a/vdis/j/d/1.vhd', 8, 10)).toString()).toBe('89');
    const f = await remote.openRead('a/vdis/j/d/1.vhd');
    expect(await f.size()).toBe(10);
    await f.close();
  });

  it('refuses to read a file larger than the caller allows, naming it', async () => {
    const { remote } = remoteWith({ 'big.json': 'x'.repeat(1000) });
    await expect(remote.read('big.json', { maxBytes: 100 })).rejects.toThrow(
      /big\.json is 1000 bytes, more than the 100/,
    );
  });

  it('writes a new file complete or not at all, and never over an existing one', async () => {
    const { remote, root } = remoteWith({ 'vm/old.json': 'old' });
    await remote.writeNew('vm/new/deep.json', 'fresh');
    expect(readFileSync(path.join(root, 'vm/new/deep.json'), 'utf8')).toBe('fresh');
    await expect(remote.writeNew('vm/old.json', 'other')).rejects.toThrow(/already exists/);
    expect(readFileSync(path.join(root, 'vm/old.json'), 'utf8')).toBe('old');
    // No temp file is left behind either way.
    expect(readdirSync(path.join(root, 'vm')).sort()).toEqual(['new', 'old.json']);
  });

  it('overwrites a file whole, and renames over one only when asked to', async () => {
    const { remote, root } = remoteWith({
      'vm/.a.vhd.merge.json': '{"step":1}',
      'vm/a.vhd': 'merged',
      'vm/b.vhd': 'child',
    });
    await remote.overwrite('vm/.a.vhd.merge.json', '{"step":2}');
    await remote.overwrite('vm/fresh.json', 'new');
    expect(readFileSync(path.join(root, 'vm/.a.vhd.merge.json'), 'utf8')).toBe('{"step":2}');
    expect(readFileSync(path.join(root, 'vm/fresh.json'), 'utf8')).toBe('new');

    await expect(remote.rename('vm/a.vhd', 'vm/b.vhd')).rejects.toThrow(/already exists|exists/i);
    expect(readFileSync(path.join(root, 'vm/b.vhd'), 'utf8')).toBe('child');
    await remote.rename('vm/a.vhd', 'vm/b.vhd', { replace: true });
    expect(readFileSync(path.join(root, 'vm/b.vhd'), 'utf8')).toBe('merged');
    // No temp file is left behind.
    expect(readdirSync(path.join(root, 'vm')).sort()).toEqual(['.a.vhd.merge.json', 'b.vhd', 'fresh.json']);
  });

  it('on a root that is not there (an unmounted share) finds nothing, and never calls that outside the repository', async () => {
    const remote = new FolderRemote(path.join(temp(), 'not-mounted'));
    expect(await remote.stat('')).toBeUndefined();
    expect(await remote.list('xo-vm-backups')).toEqual([]);
    expect(await remote.readIfExists('xo-vm-backups/a/1.json')).toBeUndefined();
  });

  it('keeps an upload invisible until it is placed, and leaves nothing when aborted', async () => {
    const { remote, root } = remoteWith({});
    const up = await remote.beginNew('vm/1.xva');
    await up.file.write(Buffer.from('data'), 0, 4, 0);
    await up.seal();
    expect(existsSync(path.join(root, 'vm/1.xva'))).toBe(false);
    await up.place();
    expect(readFileSync(path.join(root, 'vm/1.xva'), 'utf8')).toBe('data');

    const dropped = await remote.beginNew('vm/2.xva');
    await dropped.file.write(Buffer.from('half'), 0, 4, 0);
    await dropped.abort();
    await dropped.abort();
    expect(readdirSync(path.join(root, 'vm'))).toEqual(['1.xva']);
  });

  it('runs a validation of the sealed bytes before the file takes its name', async () => {
    const { remote, root } = remoteWith({});
    const up = await remote.beginNew('vm/1.xva');
    await up.file.write(Buffer.from('bad'), 0, 3, 0);
    await expect(
      up.commit(async (file) => {
        if ((await file.size()) !== 4) throw new Error('wrong size');
      }),
    ).rejects.toThrow(/wrong size/);
    expect(readdirSync(path.join(root, 'vm'))).toEqual([]);
  });

  it.each(['../outside', '/etc/passwd', 'a/../../x', 'a/./b', 'a//b', 'a\\..\\b', 'C:/Windows', 'a\0b', ''])(
    'refuses the key %j as leading outside the repository',
    async (key) => {
      const { remote } = remoteWith({ 'a/b': 'x' });
      await expect(remote.read(key)).rejects.toThrow(/outside the repository/);
      await expect(remote.delete(key)).rejects.toThrow(/outside the repository/);
    },
  );

  it('never reads, writes or deletes through a link that leads out of the folder', async () => {
    const outside = temp();
    writeFileSync(path.join(outside, 'precious.vhd'), 'keep me');
    const { remote, root } = remoteWith({ 'vm/1.json': '{}' });
    symlinkSync(outside, path.join(root, 'vm/vdis'));
    symlinkSync(path.join(outside, 'precious.vhd'), path.join(root, 'vm/2.vhd'));

    await expect(remote.read('vm/vdis/precious.vhd')).rejects.toThrow(/outside the repository/);
    await expect(remote.read('vm/2.vhd')).rejects.toThrow(/outside the repository/);
    await expect(remote.delete('vm/vdis/precious.vhd')).rejects.toThrow(/outside the repository/);
    await expect(remote.writeNew('vm/vdis/new.vhd', 'x')).rejects.toThrow(/outside the repository/);
    await expect(remote.openUpdate('vm/2.vhd')).rejects.toThrow(/outside the repository/);
    await expect(remote.overwrite('vm/vdis/precious.vhd', 'x')).rejects.toThrow(/outside the repository/);
    await expect(remote.rename('vm/1.json', 'vm/vdis/precious.vhd', { replace: true })).rejects.toThrow(
      /outside the repository/,
    );
    expect(readFileSync(path.join(outside, 'precious.vhd'), 'utf8')).toBe('keep me');
    expect(readdirSync(outside)).toEqual(['precious.vhd']);
    // Links are listed as links (so nothing takes the linked file for missing), never as what they lead to.
    expect((await remote.list('vm')).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: '1.json', kind: 'file' },
      { name: '2.vhd', kind: 'link' },
      { name: 'vdis', kind: 'link' },
    ]);
  });

  it('deletes files (an absent one is fine), removes only empty folders, and knows its free space', async () => {
    const { remote, root } = remoteWith({ 'vm/vdis/j/d/1.vhd': 'x', 'vm/vdis/j/e/2.vhd': 'y' });
    await remote.delete('vm/vdis/j/d/1.vhd');
    await remote.delete('vm/vdis/j/d/1.vhd');
    await remote.removeEmptyFolder('vm/vdis/j/d');
    await remote.removeEmptyFolder('vm/vdis/j');
    expect(readdirSync(path.join(root, 'vm/vdis/j'))).toEqual(['e']);
    const space = await remote.freeSpace();
    expect(space!.totalBytes).toBeGreaterThan(0);
    expect(space!.freeBytes).toBeLessThanOrEqual(space!.totalBytes);
  });
});

describe('openRemote', () => {
  it('opens a folder for a path (a drive letter is no scheme) and refuses a URL no kind takes, naming it', () => {
    // Behind the encryption layer, which passes a plain remote through.
    expect(openRemote('/mnt/nas/backups').inner).toBeInstanceOf(FolderRemote);
    expect(openRemote('backups').inner).toBeInstanceOf(FolderRemote);
    expect(openRemote('D:\\backups').inner).toBeInstanceOf(FolderRemote);
    expect(() => openRemote('smb://nas/share')).toThrow(
      expect.objectContaining({
        code: 'VALIDATION',
        message: 'No kind of remote Sluice knows takes "smb://nas/share".',
        hint: 'Give an S3 bucket (s3://BUCKET/PREFIX?endpoint=URL) or a folder (a local disk or a mounted share).',
      }),
    );
  });
});
