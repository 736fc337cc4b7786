import path from 'node:path';
import { runMeasured, type RunResult } from './process-probe.js';
import { backupCliArgs, type HostLogin } from '../../test/helpers/cli-args.js';
import { ROOT } from './sim-process.js';

/** The sluice executable: run through its shebang, as `npx sluice` runs it (same process, its flags). */
export const SLUICE_BIN = path.join(ROOT, 'bin/sluice.js');

/** `sluice …` pinned to CPU 1 (the simulated host has CPU 0), measured; `env` adds to ours (an S3 remote's keys). */
export function runSluiceOnCpu1(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return runMeasured('taskset', ['-c', '1', SLUICE_BIN, ...args], env ? { env } : {});
}

/** One event of a `--json` run: its type, and fields the reader casts to what it knows they are. */
export interface JsonEvent {
  type: string;
  [field: string]: unknown;
}

/** The events a `--json` run printed, one a line. */
export function jsonEvents(stdout: string): JsonEvent[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** The arguments of a full `--json` backup of `vm` into `<work>/remote` (data and spool in `work` too). */
export function fullBackupArgs(host: HostLogin, passwordFile: string, vm: string, work: string): string[] {
  return backupCliArgs(host, passwordFile, {
    vm,
    remote: path.join(work, 'remote'),
    mode: 'full',
    dataDir: path.join(work, 'data'),
    spoolDir: work,
    json: true,
  });
}
