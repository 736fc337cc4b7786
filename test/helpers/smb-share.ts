// A REAL SMB share for integration tests: Debian's Samba smbd started by test/servers/samba-smb.sh in a temp
// folder, mounted the way an admin mounts a NAS (kernel cifs where the kernel has it, else the FUSE client
// smbnetfs), and torn down afterwards: unmounted, stopped, its folder removed, even when a test failed.
// smbnetfs reaches port 445 only, so one share at a time: a lock folder serialises test files that start one.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../servers/samba-smb.sh', import.meta.url));
const LOCK = path.join(os.tmpdir(), 'sluice-smb-445.lock');

const serverSchema = z.object({ port: z.number(), share: z.string(), path: z.string(), username: z.string() });
const mountSchema = z.object({ mountpoint: z.string(), via: z.enum(['cifs', 'smbnetfs']) });

export interface SmbShare {
  /** The share as the OS mounted it: what an admin gives Sluice as a folder remote. */
  readonly mountPoint: string;
  /** Where smbd keeps the share's files (read directly only to check what the server holds). */
  readonly serverPath: string;
  readonly via: 'cifs' | 'smbnetfs';
  /** SIGSTOPs every smbd of this share (the NAS freezing); resume() SIGCONTs them. */
  pause(): number[];
  resume(): void;
  /** Unmounts only (the share stays served): the mount point is left as the empty folder an admin would see. */
  unmount(): Promise<void>;
  /** Mounts again at the same place. */
  remount(): Promise<void>;
  /** Unmount, stop smbd, remove every file; safe to call twice. */
  stop(): Promise<void>;
}

/** Why this machine cannot run the SMB tests, or undefined when it can (root, smbd, a client, /dev/fuse). */
export function smbUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (smbd, mounts)';
  for (const bin of ['smbd', 'smbclient', 'smbpasswd']) if (!onPath(bin)) return `${bin} is not installed`;
  const cifs = readFileSync('/proc/filesystems', 'utf8').includes('cifs');
  if (!cifs && !onPath('smbnetfs')) return 'no kernel cifs and smbnetfs is not installed';
  if (!cifs && !existsSync('/dev/fuse')) return 'no kernel cifs and no /dev/fuse';
  return undefined;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .concat('/usr/sbin', '/sbin')
    .some((d) => existsSync(path.join(d, bin)));
}

/**
 * Starts smbd on port 445 in a fresh temp folder and mounts its share. smbnetfs gets a 120 s Samba reply timeout
 * and 150 s for its worker's reply (its defaults, 20 s and 30 s, fail a request to a server paused longer with
 * EIO, as measured; kernel cifs and Windows' client wait for minutes before they give up on a server).
 */
export async function startSmbShare(): Promise<SmbShare> {
  await takeLock();
  const dir = fsTemp('sluice-smb-');
  const state = path.join(dir, 'state');
  const mnt = path.join(dir, 'mnt');
  const env = { ...process.env, SMB_PORT: '445', SMBNETFS_OPTS: 'smb_timeout=120000,reply_timeout=150' };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      resumeAll(state); // a paused smbd would not hear the stop
      await run('bash', [SCRIPT, 'stop', state], { env }).catch(() => {});
      for (const pid of smbdPids(state)) process.kill(pid, 'SIGKILL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(LOCK, { recursive: true, force: true });
    }
  };
  try {
    const started = await run('bash', [SCRIPT, 'start', state], { env });
    const server = serverSchema.parse(JSON.parse(lastLine(started.stdout)));
    if (server.port !== 445) throw new Error(`smbd is on port ${server.port}, smbnetfs reaches 445 only`);
    const doMount = async () =>
      mountSchema.parse(JSON.parse(lastLine((await run('bash', [SCRIPT, 'mount', state, mnt], { env })).stdout)));
    let mounted = await doMount();
    if (!existsSync(mounted.mountpoint)) throw new Error(`the share did not appear at ${mounted.mountpoint}`);
    return {
      get mountPoint() {
        return mounted.mountpoint;
      },
      serverPath: server.path,
      get via() {
        return mounted.via;
      },
      pause: () => {
        const pids = smbdPids(state);
        for (const pid of pids) process.kill(pid, 'SIGSTOP');
        return pids;
      },
      resume: () => resumeAll(state),
      unmount: async () => {
        await run('bash', [SCRIPT, 'umount', state], { env });
      },
      remount: async () => {
        mounted = await doMount();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The smbd processes serving this state folder (parent, helpers, one per client connection). */
function smbdPids(state: string): number[] {
  const conf = path.join(state, 'smb.conf');
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)(smbd|samba-dcerpcd|rpcd_\w+)$/.test(cmd[0] ?? '') && cmd.includes(conf)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function resumeAll(state: string): void {
  for (const pid of smbdPids(state)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone meanwhile
    }
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

function fsTemp(prefix: string): string {
  const dir = path.join(os.tmpdir(), `${prefix}${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** One share at a time on this machine (port 445): a lock folder with the holder's pid; a dead holder's is stale. */
async function takeLock(): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path.join(LOCK, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (holder && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
      else if (i > 600) throw new Error(`another test holds the SMB share lock ${LOCK} (pid ${holder})`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
