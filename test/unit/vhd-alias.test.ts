import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { aliasDirectory, BrokenAliasError, resolveAlias } from '../../src-main/repository/vhd-directory-files.js';

// An alias is repository content, so possibly hostile: it is followed only to a directory inside its own VM
// folder, and every other content is refused with the alias named, before anything is read through it.

const root = mkdtempSync(path.join(tmpdir(), 'sluice-alias-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const remote = new FolderRemote(root);
const folder = 'xo-vm-backups/11111111-1111-4111-8111-111111111111/vdis/job/22222222-2222-4222-8222-222222222222';
const aliasKey = `${folder}/20250101T000000Z.alias.vhd`;
mkdirSync(path.join(root, folder, 'data', '20250101T000000Z.vhd'), { recursive: true });
writeFileSync(path.join(root, folder, 'data', '20250101T000000Z.vhd', 'header'), 'x');
mkdirSync(path.join(root, 'xo-vm-backups', 'other', 'data'), { recursive: true });

function aliasHolding(content: string | Buffer): Promise<unknown> {
  writeFileSync(path.join(root, aliasKey), content);
  return aliasDirectory(remote, aliasKey).catch((e: unknown) => e);
}

describe('VHD aliases', () => {
  it("resolves XO's relative path (trailing whitespace trimmed, as XO reads it)", async () => {
    expect(await aliasHolding('data/20250101T000000Z.vhd\n')).toBe(`${folder}/data/20250101T000000Z.vhd`);
    expect((await resolveAlias(remote, aliasKey)).target).toBe('data/20250101T000000Z.vhd');
  });

  it.each([
    ['empty', '', 'is empty'],
    ['another alias', 'data/x.alias.vhd', 'names another alias'],
    ['an absolute path', '/etc', 'not a path relative'],
    ['a backslash path', '..\\..\\x', 'not a path relative'],
    ['a path out of the repository', '../../../../../../../etc', 'outside its VM folder'],
    ["another VM's folder", '../../../../other/data', 'outside its VM folder'],
    ['the VM folder itself', '../../..', 'outside its VM folder'],
    ['a directory that is missing', 'data/nope.vhd', 'which is missing'],
    ['a file', 'data/20250101T000000Z.vhd/header', 'a file, not a VHD directory'],
    ['more than 1 KiB', 'a'.repeat(1025), 'larger than the 1024 bytes'],
  ])('refuses an alias holding %s, naming it', async (_what, content, words) => {
    const err = await aliasHolding(content);
    expect(err).toBeInstanceOf(BrokenAliasError);
    expect(String((err as Error).message)).toContain(words);
    expect(String((err as Error).message)).toContain(path.join(root, aliasKey));
  });
});
