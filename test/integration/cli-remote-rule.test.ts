import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/serve-process.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Every command that takes --remote applies the UI's rule for a remote: a full path, already there. An
// unmounted share (its mount point missing) is never created and written to on the local disk, and a relative
// path is never taken relative to wherever the command was started. No pool is needed: the remote is checked
// before any login.
const { temp, cleanupAll } = tempDirs();
let work: string;
let passwordFile: string;
beforeAll(() => {
  work = temp();
  passwordFile = path.join(work, 'pw');
  writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
});
afterAll(() => cleanupAll());

const login = () => ['--host', 'https://127.0.0.1:1', '--username', 'root', '--password-file', passwordFile];
const REL = 'sluice-test-relative-remote';

/** Each command that takes --remote, with the rest of what it needs, reading or writing `remote`. */
const commands: Record<string, (remote: string) => string[]> = {
  backup: (r) => ['backup', ...login(), '--vm', 'web01', '--remote', r, '--mode', 'full', '--data-dir', work],
  list: (r) => ['list', '--remote', r],
  check: (r) => ['check', '--remote', r],
  verify: (r) => ['verify', '--remote', r],
  restore: (r) => ['restore', '--remote', r, '--vm', 'web01', ...login(), '--data-dir', work],
  export: (r) => ['export', '--remote', r, '--vm', 'web01', '--format', 'xva', '--out', path.join(work, 'x.xva')],
  demo: (r) => ['demo', '--remote', r],
};

describe('--remote follows one rule in every command', () => {
  for (const [name, args] of Object.entries(commands)) {
    it(`${name} refuses a missing remote, creating nothing, and exits 1`, async () => {
      const missing = path.join(work, 'nas-not-mounted', name);
      const r = await runCli(args(missing));
      expect(r.stderr).toMatch(new RegExp(`The remote ${missing} does not exist\\..*\n {2}hint: .*share is mounted`));
      expect(r.code).toBe(1);
      expect(existsSync(path.join(work, 'nas-not-mounted'))).toBe(false);
    });

    it(`${name} refuses a relative remote, writing nothing in the current folder`, async () => {
      const r = await runCli(args(`./${REL}`));
      expect(r.stderr).toContain(`"./${REL}" is not an absolute folder path.`);
      expect(r.stderr).toMatch(/hint: Use the full path of a local folder or a mounted share/);
      expect(r.code).toBe(1);
      expect(existsSync(path.join(ROOT, REL))).toBe(false);
    });
  }

  it('a URL is handed to the remote registry as it is, never taken for a relative folder', async () => {
    const r = await runCli(['list', '--remote', 'smb://nas/share/backups']);
    expect(r.stderr).toContain('No kind of remote Sluice knows takes "smb://nas/share/backups"');
    expect(r.code).toBe(1);
    expect(existsSync(path.join(ROOT, 'smb:'))).toBe(false);
  });

  it('list of an existing empty folder says it holds no points, and exits 0', async () => {
    const empty = path.join(work, 'empty');
    mkdirSync(empty);
    const r = await runCli(['list', '--remote', empty]);
    expect(r.stdout).toBe(`No backup points in ${empty}.\n`);
    expect(r.code).toBe(0);
  });

  it('list of a file says it is no folder', async () => {
    const r = await runCli(['list', '--remote', passwordFile]);
    expect(r.stderr).toContain(`The remote ${passwordFile} is a file, not a folder.`);
    expect(r.code).toBe(1);
  });
});
