// A REAL slow destination for benchmarks and integration tests: bench/throttlefs/throttlefs.c is a FUSE3
// passthrough whose write() calls sleep on a token bucket and block during "stalls", like a NAS slower than
// the host. This module compiles it once (cached), mounts a backing dir through it, controls it at run time
// over the child's stdin/stdout, and unmounts it. Linux only; needs /dev/fuse, gcc, pkg-config + libfuse3-dev
// and fusermount3 (Debian: apt-get install -y fuse3 libfuse3-dev pkg-config gcc).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const THROTTLEFS_SOURCE = join(REPO_ROOT, 'bench', 'throttlefs', 'throttlefs.c');
const CACHE_DIR = process.env.THROTTLEFS_CACHE_DIR ?? join(REPO_ROOT, 'node_modules', '.cache', 'throttlefs');
const BINARY = join(CACHE_DIR, 'throttlefs');

const MOUNT_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 5_000;
const EXIT_TIMEOUT_MS = 5_000;

export interface ThrottleStats {
  /** Bytes accepted by write() since the mount. */
  bytes: number;
  /** write() calls seen by the filesystem (the kernel splits large writes, typically into 128 KiB). */
  writes: number;
  /** write() calls that had to wait for a stall to end. */
  stalledWrites: number;
  stallWaitMs: number;
  throttleWaitMs: number;
  rate: number;
  stalled: boolean;
}

export interface ThrottledMount {
  mountPoint: string;
  /** Process id of the throttlefs process (for diagnostics and crash tests). */
  pid: number | undefined;
  /** Bytes per second for all writes through the mount; 0 = unlimited. Resolves once in effect. */
  setRate(bps: number): Promise<void>;
  /**
   * Starts a stall: every write() (and fsync()) blocks for `ms` from now (ms < 0: until `unstall()`).
   * Resolves as soon as the stall is IN EFFECT, not when it ends.
   */
  stall(ms: number): Promise<void>;
  /** Ends a stall now; blocked writers continue. */
  unstall(): Promise<void>;
  /** Makes statfs report this many bytes free/available (null: the backing filesystem's own numbers). */
  setFakeFreeBytes(bytes: number | null): Promise<void>;
  /** Makes every write() fail with this errno (null: stop), e.g. to simulate a full remote. */
  setFailWrites(code: 'ENOSPC' | 'EIO' | 'EDQUOT' | 'EROFS' | null): Promise<void>;
  stats(): Promise<ThrottleStats>;
  /** Unmounts and ends the process; idempotent; falls back to a lazy fusermount3/umount and SIGKILL. */
  unmount(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Whether this machine can build and mount throttlefs; `why` says what is missing. */
export function throttledMountAvailable(): { ok: boolean; why?: string } {
  if (process.platform !== 'linux') return { ok: false, why: `FUSE mounts need Linux (this is ${process.platform})` };
  if (!existsSync('/dev/fuse')) return { ok: false, why: '/dev/fuse is missing (container without the fuse device?)' };
  try {
    accessSync('/dev/fuse', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    return { ok: false, why: '/dev/fuse is not readable and writable by this user' };
  }
  if (!existsSync(THROTTLEFS_SOURCE)) return { ok: false, why: `${THROTTLEFS_SOURCE} is missing` };
  const missing = ['gcc', 'pkg-config', 'fusermount3'].filter((c) => !onPath(c));
  if (missing.length)
    return {
      ok: false,
      why: `not on PATH: ${missing.join(', ')} (apt-get install -y fuse3 libfuse3-dev pkg-config gcc)`,
    };
  if (spawnSync('pkg-config', ['--exists', 'fuse3'], { stdio: 'ignore' }).status !== 0) {
    return { ok: false, why: 'pkg-config does not know fuse3 (apt-get install -y libfuse3-dev)' };
  }
  return { ok: true };
}

let building: Promise<string> | undefined;

/**
 * Compiles throttlefs.c into the cache dir unless the cached binary was built from this very source (a
 * sha256 stamp next to it, so neither checkout mtimes nor an older binary can fool it).
 */
export function buildThrottlefs(): Promise<string> {
  building ??= (async () => {
    const hash = createHash('sha256')
      .update(await readFile(THROTTLEFS_SOURCE))
      .digest('hex');
    const stampFile = `${BINARY}.sha256`;
    const [bin, stamp] = await Promise.all([
      stat(BINARY).catch(() => undefined),
      readFile(stampFile, 'utf8').catch(() => ''),
    ]);
    if (bin && bin.size > 0 && stamp.trim() === hash) return BINARY;
    await mkdir(CACHE_DIR, { recursive: true });
    const { stdout } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'fuse3']);
    const tmp = `${BINARY}.${process.pid}.tmp`;
    try {
      await execFileAsync('gcc', [
        '-O2',
        '-Wall',
        '-o',
        tmp,
        THROTTLEFS_SOURCE,
        ...stdout.trim().split(/\s+/),
        '-lpthread',
      ]);
      await rename(tmp, BINARY); // atomic: parallel workers never run a half-written binary
      await writeFile(stampFile, `${hash}\n`);
    } catch (err) {
      await rm(tmp, { force: true });
      const e = err as { stderr?: string; message: string };
      throw new Error(`building throttlefs failed: ${e.stderr || e.message}`);
    }
    return BINARY;
  })();
  building.catch(() => {
    building = undefined; // let a later call retry
  });
  return building;
}

function decodeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Whether `absPath` (already resolved) is a mount point in /proc/mounts, and with which fs type. */
export function mountedFsType(absPath: string): string | undefined {
  let type: string | undefined;
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mp, fsType] = line.split(' ');
    if (mp !== undefined && fsType !== undefined && decodeMountField(mp) === absPath) type = fsType; // last = on top
  }
  return type;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function lazyUnmount(mp: string): Promise<void> {
  for (const [cmd, args] of [
    ['fusermount3', ['-u', '-z', mp]],
    ['umount', ['-l', mp]],
  ] as const) {
    try {
      await execFileAsync(cmd, [...args]);
      return;
    } catch {
      // try the next one
    }
  }
}

export async function mountThrottled(opts: {
  backingDir: string;
  mountPoint: string;
  rateBytesPerSec?: number;
  /** Bucket depth in bytes (default 64 KiB): how much may pass at full speed after an idle period. */
  burstBytes?: number;
  /**
   * FUSE direct_io (default true): each write syscall reaches throttlefs as large requests (up to 1 MiB) and
   * bypasses the page cache, like an O_DIRECT/sync NAS client. With false (page-cache mode) some kernels
   * (seen on 6.18) split writes from unaligned buffers, e.g. every Node write, into ~2 KiB requests, which caps
   * the mount at ~60 MiB/s even unthrottled. shared mmap() of files needs false.
   */
  directIo?: boolean;
}): Promise<ThrottledMount> {
  const avail = throttledMountAvailable();
  if (!avail.ok) throw new Error(`throttled mount unavailable: ${avail.why}`);
  const bin = await buildThrottlefs();
  const backingDir = await realpath(opts.backingDir);
  await mkdir(opts.mountPoint, { recursive: true });
  const mountPoint = await realpath(opts.mountPoint); // resolve BEFORE mounting: a dead FUSE mount cannot be stat'ed
  if (mountedFsType(mountPoint)) throw new Error(`${mountPoint} is already a mount point`);

  const args = ['--control', '-', '--rate', String(Math.max(0, Math.round(opts.rateBytesPerSec ?? 0)))];
  if (opts.burstBytes !== undefined) args.push('--burst', String(Math.max(0, Math.round(opts.burstBytes))));
  if (opts.directIo ?? true) args.push('--direct-io');
  // auto_unmount: fusermount3 removes the mount even if the process is SIGKILLed.
  args.push(backingDir, mountPoint, '-f', '-o', 'fsname=throttlefs,subtype=throttlefs,auto_unmount');
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });

  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  child.stdin!.on('error', () => {}); // EPIPE after the process ended is reported through 'exit'
  // One reply line per command, in order; "ready" once at start.
  const waiters: { resolve(line: string): void; reject(err: Error): void }[] = [];
  let exited = false;
  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
  });
  child.on('exit', () => {
    exited = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`throttlefs exited: ${stderr.trim()}`));
  });

  let ready = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') ready = true;
    else waiters.shift()?.resolve(line);
  });

  let queue: Promise<unknown> = Promise.resolve();
  let desynced = false; // a reply timed out: later replies could be matched to the wrong command
  const command = (cmd: string): Promise<string> => {
    const run = async () => {
      if (exited) throw new Error(`throttlefs is not running (command "${cmd}")`);
      if (desynced) throw new Error(`throttlefs control channel is out of step (command "${cmd}")`);
      const reply = await new Promise<string>((resolve, reject) => {
        const waiter = {
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
          reject: (e: Error) => {
            clearTimeout(t);
            reject(e);
          },
        };
        const t = setTimeout(() => {
          desynced = true;
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`throttlefs did not answer "${cmd}" within ${COMMAND_TIMEOUT_MS} ms`));
        }, COMMAND_TIMEOUT_MS);
        waiters.push(waiter);
        child.stdin!.write(`${cmd}\n`);
      });
      if (!reply.startsWith('ok')) throw new Error(`throttlefs: "${cmd}" -> ${reply}`);
      return reply;
    };
    const p = queue.then(run, run);
    queue = p.catch(() => undefined);
    return p;
  };

  let unmounting: Promise<void> | undefined;
  const unmount = (): Promise<void> => {
    unmounting ??= (async () => {
      if (!exited) {
        child.stdin!.end('quit\n'); // stdin EOF alone would also make it unmount and exit
        if (!(await waitForExit(child, EXIT_TIMEOUT_MS))) {
          child.kill('SIGTERM');
          await waitForExit(child, 2_000);
        }
      }
      if (mountedFsType(mountPoint)) await lazyUnmount(mountPoint);
      if (!exited && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitForExit(child, 2_000);
      }
      for (let i = 0; i < 20 && mountedFsType(mountPoint); i++) await sleep(50); // auto_unmount helper is async
      if (mountedFsType(mountPoint)) throw new Error(`${mountPoint} is still mounted after unmount()`);
    })();
    return unmounting;
  };

  // Wait until the kernel lists the mount and the filesystem answered INIT ("ready").
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  while (!(ready && mountedFsType(mountPoint) === 'fuse.throttlefs')) {
    if (spawnError || exited || Date.now() > deadline) {
      const why =
        spawnError?.message ??
        (exited ? `exited with ${child.exitCode ?? child.signalCode}` : `not mounted after ${MOUNT_TIMEOUT_MS} ms`);
      await unmount().catch(() => undefined);
      await sleep(50); // let the last stderr arrive
      throw new Error(`throttlefs failed to mount ${backingDir} on ${mountPoint}: ${why}: ${stderr.trim()}`);
    }
    await sleep(20);
  }
  try {
    await command('ping');
  } catch (err) {
    await unmount().catch(() => undefined);
    throw err;
  }

  return {
    mountPoint,
    pid: child.pid,
    setRate: async (bps) => {
      await command(`rate ${Math.max(0, Math.round(bps))}`);
    },
    stall: async (ms) => {
      await command(`stall ${ms < 0 ? 'forever' : Math.round(ms)}`);
    },
    unstall: async () => {
      await command('unstall');
    },
    setFakeFreeBytes: async (bytes) => {
      await command(`free ${bytes === null ? 'off' : Math.max(0, Math.round(bytes))}`);
    },
    setFailWrites: async (code) => {
      await command(`fail ${code ?? 'off'}`);
    },
    stats: async () => {
      const reply = await command('stats');
      const kv = Object.fromEntries(
        reply
          .split(' ')
          .slice(1)
          .map((p) => p.split('=') as [string, string]),
      );
      const n = (k: string) => Number(kv[k] ?? 0);
      return {
        bytes: n('bytes'),
        writes: n('writes'),
        stalledWrites: n('stalled_writes'),
        stallWaitMs: n('stall_wait_ms'),
        throttleWaitMs: n('throttle_wait_ms'),
        rate: n('rate'),
        stalled: n('stalled') === 1,
      };
    },
    unmount,
  };
}
