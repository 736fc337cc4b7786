import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { xoKeyOf } from '../../src-main/formats/xo-encryption/xo-cipher.js';
import { backupCliArgs, hostArgs } from '../helpers/cli-args.js';
import { runCli } from '../helpers/cli.js';
import { pythonDecryptTree, pythonEncryptTree } from '../helpers/python-aead.js';
import { smallPool } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// Full backups to an encrypted folder remote through the CLI, as an admin runs them, and the same repository
// read by an independent implementation of XO's encryption (Python's cryptography) both ways.

const env = withSimulator(smallPool, { session: false });
const KEY_TEXT = 'correct horse battery staple 32c';
const KEY = xoKeyOf(KEY_TEXT)!;
let work: string;
let remote: string;
let keyFile: string;

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function snapshot(dir: string): string[] {
  return files(dir).map((f) => `${f}:${statSync(path.join(dir, f)).mtimeMs}:${statSync(path.join(dir, f)).size}`);
}

const vmCount = () => Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot !== true).length;
const snapshotCount = () => Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true).length;

const withKey = (file = keyFile) => ['--encryption-key-file', file];

function backupArgs(mode: 'full' | 'delta', extra: string[] = []) {
  return backupCliArgs(env.sim, env.passwordFile, {
    vm: 'web01',
    remote,
    mode,
    dataDir: path.join(work, 'data'),
    spoolDir: path.join(work, 'spool'),
    extra,
  });
}

beforeAll(async () => {
  work = env.temp();
  remote = path.join(work, 'encrypted');
  keyFile = path.join(work, 'key');
  writeFileSync(keyFile, KEY_TEXT + '\n', { mode: 0o600 });
  const made = await runCli(backupArgs('full', withKey()));
  expect(made.code, made.stderr).toBe(0);
});

describe('full backups to an encrypted folder remote', () => {
  it("writes XO's handshake and only encrypted files, no checksum file; an independent decryption is XO's plain layout", async () => {
    expect(JSON.parse(readFileSync(path.join(remote, 'encryption.json'), 'utf8'))).toEqual({
      algorithm: 'chacha20-poly1305',
    });
    const stored = files(remote);
    expect(stored.filter((f) => f.endsWith('.xva'))).toHaveLength(1);
    expect(stored.filter((f) => f.endsWith('.checksum'))).toEqual([]);
    const xva = stored.find((f) => f.endsWith('.xva'))!;
    // Not a tar in the clear: a tar's header names its first entry (ova.xml) at byte 0.
    expect(readFileSync(path.join(remote, xva)).subarray(0, 512).includes(Buffer.from('ova.xml'))).toBe(false);

    // What XO reads with the key: every file decrypted. That tree is a plain repository Sluice verifies.
    const plain = path.join(work, 'plain');
    pythonDecryptTree('chacha20-poly1305', KEY, remote, plain);
    expect(readFileSync(path.join(plain, xva)).subarray(0, 512).includes(Buffer.from('ova.xml'))).toBe(true);
    const metadata = JSON.parse(readFileSync(path.join(plain, xva.replace(/\.xva$/, '.json')), 'utf8'));
    expect(metadata).toMatchObject({ mode: 'full', version: '2.0.0', xva: `./${path.basename(xva)}` });
    expect(metadata.size).toBe(statSync(path.join(plain, xva)).size);
    const verified = await runCli(['verify', '--remote', plain]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it('lists, verifies and exports with the key', async () => {
    const listed = await runCli(['list', '--remote', remote, '--json', ...withKey()]);
    expect(listed.code, listed.stderr).toBe(0);
    const { points } = JSON.parse(listed.stdout) as { points: Array<{ vmName: string; mode: string }> };
    expect(points).toMatchObject([{ vmName: 'web01', mode: 'full' }]);
    const verified = await runCli(['verify', '--remote', remote, ...withKey()]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/1 point\(s\) checked, 0 damaged/);
    const out = path.join(work, 'web01.xva');
    const exported = await runCli([
      'export',
      '--remote',
      remote,
      '--vm',
      'web01',
      '--format',
      'xva',
      '--out',
      out,
      ...withKey(),
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const xva = files(remote).find((f) => f.endsWith('.xva'))!;
    expect(readFileSync(out).equals(readFileSync(path.join(work, 'plain', xva)))).toBe(true);
    const check = await runCli(['check', '--remote', remote, ...withKey()]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('refuses the remote without its key, or with a wrong one, naming it, and writes nothing', async () => {
    const before = snapshot(remote);
    const snapshots = snapshotCount();
    const none = await runCli(['list', '--remote', remote]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`The remote ${remote} is encrypted (chacha20-poly1305): Sluice needs its key.`);
    expect(none.stderr).toContain('--encryption-key-file');
    const wrongFile = path.join(work, 'wrong');
    writeFileSync(wrongFile, KEY_TEXT.replace('staple', 'stable'), { mode: 0o600 });
    for (const args of [
      ['list', '--remote', remote, ...withKey(wrongFile)],
      ['check', '--remote', remote, '--repair', ...withKey(wrongFile)],
      backupArgs('full', withKey(wrongFile)),
      backupArgs('full'),
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`(does not open the encrypted remote|The remote) ${remote}`));
    }
    const short = path.join(work, 'short');
    writeFileSync(short, 'too short');
    const bad = await runCli(['list', '--remote', remote, ...withKey(short)]);
    expect(bad.stderr).toContain(`The encryption key in ${short} is not 32 characters long.`);
    expect(snapshot(remote)).toEqual(before);
    expect(snapshotCount()).toBe(snapshots);
  });

  it('writes incremental backups as VHD directories (as XO on an encrypted remote), every object encrypted', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(backupArgs('delta', withKey()));
      expect(r.code, r.stderr).toBe(0);
    }
    const all = files(remote);
    const aliases = all.filter((f) => f.endsWith('.alias.vhd'));
    expect(aliases.length).toBeGreaterThanOrEqual(2);
    expect(all.some((f) => /\/data\/[^/]+\.vhd\/blocks\//.test(f))).toBe(true);
    expect(all.filter((f) => f.endsWith('.vhd') && !f.endsWith('.alias.vhd') && !f.includes('/data/'))).toEqual([]);
    // No VHD structure in the clear: neither a footer's cookie nor a header's.
    for (const f of all) {
      const bytes = readFileSync(path.join(remote, f));
      expect(bytes.includes(Buffer.from('conectix')), f).toBe(false);
      expect(bytes.includes(Buffer.from('cxsparse')), f).toBe(false);
    }
    const verify = await runCli(['verify', '--remote', remote, ...withKey()]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const check = await runCli(['check', '--remote', remote, ...withKey()]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('reads a remote XO encrypted (aes-256-gcm, its older algorithm) with the same key', async () => {
    const xo = path.join(work, 'xo-made');
    pythonEncryptTree('aes-256-gcm', KEY, path.join(work, 'plain'), xo);
    const verified = await runCli(['verify', '--remote', xo, ...withKey()]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const listed = await runCli(['list', '--remote', xo, ...withKey()]);
    expect(listed.stdout).toMatch(/web01 \(/);
  });

  it('a second backup with retention 1 deletes the first point on the encrypted remote', async () => {
    const before = files(remote).filter((f) => f.endsWith('.xva'));
    const again = await runCli(backupArgs('full', [...withKey(), '--retention', '1']));
    expect(again.code, again.stderr).toBe(0);
    const after = files(remote).filter((f) => f.endsWith('.xva'));
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    // The full point's metadata went with its XVA (the incremental points are another job's, kept).
    for (const xva of before) expect(files(remote)).not.toContain(xva.replace(/\.xva$/, '.json'));
  });

  it('a tampered XVA: verify names it, restore refuses it and leaves no VM on the host', async () => {
    const xva = path.join(
      remote,
      files(remote).find((f) => f.endsWith('.xva'))!,
    );
    const raw = readFileSync(xva);
    raw[Math.floor(raw.length / 2)]! ^= 0x20;
    writeFileSync(xva, raw);
    const verified = await runCli(['verify', '--remote', remote, ...withKey()]);
    expect(verified.code).toBe(1);
    expect(verified.stdout + verified.stderr).toContain(`The encrypted file ${xva} is damaged`);
    const vms = vmCount();
    const restored = await runCli([
      'restore',
      '--remote',
      remote,
      '--vm',
      'web01',
      ...hostArgs(env.sim, env.passwordFile),
      '--data-dir',
      path.join(work, 'data'),
      ...withKey(),
    ]);
    expect(restored.code).toBe(1);
    expect(restored.stdout + restored.stderr).toContain(`The encrypted file ${xva} is damaged`);
    expect(vmCount()).toBe(vms);
    expect(existsSync(xva)).toBe(true);
  });
});
