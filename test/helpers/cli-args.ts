import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The argument lists of `sluice` commands, for the tests and the benchmarks that run the CLI.

/** Where a host is and whom to log in as: a simulator, in process or in its own. */
export interface HostLogin {
  url: string;
  username: string;
  fingerprint: string;
}

/** `--host`, `--username`, `--password-file` and (unless `trust` is false) `--trust-fingerprint`. */
export function hostArgs(host: HostLogin, passwordFile: string, opts: { trust?: boolean } = {}): string[] {
  return [
    ...['--host', host.url, '--username', host.username, '--password-file', passwordFile],
    ...(opts.trust === false ? [] : ['--trust-fingerprint', host.fingerprint]),
  ];
}

export interface BackupCliOptions {
  vm: string;
  remote: string;
  mode: 'full' | 'delta';
  dataDir: string;
  spoolDir: string;
  jobId?: string;
  /** Ends the list with `--json`. */
  json?: boolean;
  /** false: no `--trust-fingerprint` (the host's certificate is not pinned). */
  trust?: boolean;
  /** More flags, before `--json`. */
  extra?: string[];
}

/** `sluice backup …` of one VM to one remote, made here if missing (as an admin mounts it: a backup never makes it). */
export function backupCliArgs(host: HostLogin, passwordFile: string, o: BackupCliOptions): string[] {
  mkdirSync(o.remote, { recursive: true });
  return [
    'backup',
    ...hostArgs(host, passwordFile, { trust: o.trust }),
    ...['--vm', o.vm, '--remote', o.remote, '--mode', o.mode],
    ...(o.jobId === undefined ? [] : ['--job-id', o.jobId]),
    ...['--data-dir', o.dataDir, '--spool-dir', o.spoolDir],
    ...(o.extra ?? []),
    ...(o.json ? ['--json'] : []),
  ];
}

/** Writes `password` to `<dir>/pw` (mode 0600) and returns that path, for `--password-file`. */
export function writePasswordFile(dir: string, password: string): string {
  const file = path.join(dir, 'pw');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return file;
}
