import type { XapiSession } from '../../xapi/xapi-session.js';
import { cliBackupJobId } from '../../../src-shared/contract/runs.js';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { DeltaBackupResult } from '../../backup/delta-backup.js';
import type { FullBackupResult } from '../../backup/full-backup.js';
import { runBackupPlan, type BackupPlan } from '../../runs/backup-plan.js';
import { spoolBudget, type SpoolBudget } from '../../runs/spool-budget.js';
import { resolveVms, type SelectedVm } from '../../backup/vm-selection.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { ConfSettingsStore } from '../../settings/conf-settings-store.js';
import { preflightOpenedRemote } from '../../remotes/remote-preflight.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs, requireFlags } from '../command-args.js';
import { formatBytes, formatDuration, parseSize } from '../../../src-shared/units.js';
import {
  connectWithFlags,
  readPasswordFile,
  HOST_CONNECTION_OPTIONS,
  type HostConnectionFlags,
} from '../host-connection.js';
import { CommandOutput } from '../command-output.js';
import { cancelOnSignal } from '../cancel-on-signal.js';

export const backupHelp = `sluice backup --host URL --username U --password-file F [--trust-fingerprint SHA256]
              --vm NAME_OR_UUID... --remote DIR [--encryption-key-file FILE] --mode full|delta [--job NAME] [--retention N]
              [--full-interval K] [--vhd-directory] [--json]

Backs up VMs of a pool into a repository folder (Xen Orchestra's layout), with progress bars.

  --host URL                the pool (coordinator or member), e.g. https://xcp1 or xcp1:443
  --username U              the pool user (often root)
  --password-file F         a file holding the password (chmod 600)
  --trust-fingerprint SHA   approve the host certificate's SHA-256 (first use or after a change)
  --vm NAME_OR_UUID         a VM to back up; repeat for several
  --remote DIR|S3URL        the repository: a folder (a full path: local disk or a mounted share; never
                            created), or s3://BUCKET/PREFIX?endpoint=URL with the keys in AWS_ACCESS_KEY_ID and
                            AWS_SECRET_ACCESS_KEY (the bucket must exist; incremental disks go there as VHD directories)
  --mode full|delta         full (XVA) backups, or incremental ones (VHD chains, XO's delta layout)
  --retention N             keep the N newest points of this job per VM; older ones are deleted after the
                            backup (delta points are merged into the chain, shown as the "merge" phase).
                            Retention counts only this job's points of this mode: other jobs' and modes'
                            points, and Xen Orchestra's, are never deleted by it
  --full-interval K         delta mode: start a new chain with a full VHD when the chain holds K points
  --vhd-directory           delta mode: store each disk as a VHD directory (Xen Orchestra's useVhdDirectory:
                            an alias <ts>.alias.vhd and data/<ts>.vhd/ with one brotli object per block), as
                            on object storage, where it is always used
  --compression zstd|none   host-side compression of full backups (default none)
  --speed-limit RATE        e.g. 50M (bytes/s) for this run
  --buffer SIZE             in-memory buffer (default 64M)
  --spool-dir DIR           local spool folder (default: the system temp folder)
  --spool-cap SIZE          spool size at most (default 4G, never more than half the free space)
  --job NAME                the job these points belong to (default: the mode, so full and delta runs are two
                            jobs); recorded as job id "sluice-cli-NAME" with a schedule id of its own
  --job-id ID               the job id recorded in the metadata, as given (instead of --job)
  --data-dir DIR            where approved certificates are remembered
  --json                    one JSON event per line on stdout instead of progress bars

${ENCRYPTION_KEY_HELP}
`;

/** The command line, checked and in the run's terms. */
interface BackupArgs {
  connection: HostConnectionFlags;
  passwordFile: string;
  vms: string[];
  remoteRoot: string;
  /** The key of an encrypted remote, in a file. */
  encryptionKeyFile: string | undefined;
  mode: 'full' | 'delta';
  compression: 'none' | 'zstd';
  keep: number | undefined;
  fullInterval: number | undefined;
  useVhdDirectory: boolean;
  speedLimit: number | null;
  memoryBufferBytes: number;
  spoolCapWanted: number;
  spoolDirWanted: string | undefined;
  jobId: string;
  dataDir: string | undefined;
  json: boolean;
}

type Failure = { vm: string; error: SluiceError | Error };

export async function backupCommand(argv: string[]): Promise<number> {
  const args = parseBackupArgs(argv);
  if (!args) return 0;
  const out = new CommandOutput(args.json);
  const { log } = out;

  const settings = new ConfSettingsStore(args.dataDir ?? defaultDataDir());
  const password = await readPasswordFile(args.passwordFile);
  // The UI's rule for a remote: a full path, already there (a missing one is an unmounted share), writable.
  // S3 remotes take their keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Marked before the first
  // write, so that a later run refuses this path once it shows an unmounted share.
  const opened = await openCliRemote(args.remoteRoot, args.encryptionKeyFile, {
    dataDir: args.dataDir ?? defaultDataDir(),
    forWriting: true,
  });
  const remote = await preflightOpenedRemote(opened);
  const spool = await spoolBudget(args.spoolCapWanted, args.spoolDirWanted);
  if (spool.limitedByFreeSpace)
    log('warn', `The spool is limited to ${formatBytes(spool.capBytes)}: half the free space in ${spool.dir}.`);
  log(
    'info',
    `Remote ${remote.label}: ${remote.freeBytes !== undefined ? `${formatBytes(remote.freeBytes)} free` : 'free space unknown (the medium does not report it)'}.`,
  );

  const cancel = cancelOnSignal(() =>
    log('warn', 'Cancelling: stopping the export on the host, removing temporary files and the snapshot…'),
  );

  const results: FullBackupResult[] = [];
  const failures: Failure[] = [];
  let xapi: XapiSession | undefined;
  try {
    // Inside the try: a refused login or an unreachable host still stops the progress output and the Ctrl-C handler.
    // Ctrl-C cancels the login, but not the session: after a cancel the run still calls the host to remove
    // its snapshot (a session tied to the signal failed those calls and left the snapshot behind).
    const connecting = new AbortController();
    const stopConnecting = () => connecting.abort(cancel.signal.reason);
    cancel.signal.addEventListener('abort', stopConnecting, { once: true });
    try {
      xapi = await connectWithFlags(settings, args.connection, password, connecting.signal);
    } finally {
      cancel.signal.removeEventListener('abort', stopConnecting);
    }
    const { selected, skipped } = await resolveVms(xapi, args.vms);
    for (const s of skipped) log('info', `Skipping ${s.name}: ${s.reason}.`, { vm: s.name });
    await runBackupPlan(xapi, backupPlan(args, selected, spool), {
      signal: cancel.signal,
      log,
      onProgress: out.progress,
      vmSucceeded: (vm, _remote, outcome) => {
        const r = outcome.mode === 'full' ? outcome.result : deltaAsFull(outcome.result);
        results.push(r);
        reportSuccess(out, vm.name, r);
      },
      vmFailed: (vm, _remote, err) => {
        failures.push({ vm: vm.name, error: err as Error });
        reportFailure(out, vm.name, err as SluiceError);
      },
    });
  } finally {
    out.stop();
    cancel.dispose();
    await xapi?.close();
  }
  if (failures.length > 0) throw runFailure(failures, results.length);
  return 0;
}

/** The flags, checked in the order a person reads the usage; undefined once --help is printed. */
function parseBackupArgs(argv: string[]): BackupArgs | undefined {
  const values = parseCommandArgs(
    argv,
    {
      ...HOST_CONNECTION_OPTIONS,
      vm: { type: 'string', multiple: true },
      remote: { type: 'string' },
      ...ENCRYPTION_KEY_OPTION,
      mode: { type: 'string' },
      compression: { type: 'string' },
      'speed-limit': { type: 'string' },
      buffer: { type: 'string' },
      'spool-dir': { type: 'string' },
      'spool-cap': { type: 'string' },
      job: { type: 'string' },
      'job-id': { type: 'string' },
      retention: { type: 'string' },
      'full-interval': { type: 'string' },
      'vhd-directory': { type: 'boolean' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    backupHelp,
  );
  if (!values) return undefined;
  requireFlags(values, ['host', 'username', 'password-file', 'remote', 'mode']);
  if (!values.vm?.length) throw new UsageError('Name at least one --vm.');
  if (values.mode !== 'full' && values.mode !== 'delta')
    throw new UsageError(`--mode takes full or delta, not "${values.mode}".`);
  const compression = (values.compression ?? 'none') as 'none' | 'zstd';
  if (!['none', 'zstd'].includes(compression)) throw new UsageError('--compression takes zstd or none.');
  const keep = pointCount('--retention', values.retention);
  if (values.job !== undefined && values['job-id'] !== undefined)
    throw new UsageError('Give --job or --job-id, not both.');
  if (values.job !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(values.job))
    throw new UsageError(
      `--job takes a name of letters, digits, ".", "_" and "-" (it names a folder on the remote), not "${values.job}".`,
    );
  const fullInterval = pointCount('--full-interval', values['full-interval']);
  if (fullInterval !== undefined && values.mode !== 'delta')
    throw new UsageError('--full-interval applies to --mode delta only.');
  if (values['vhd-directory'] && values.mode !== 'delta')
    throw new UsageError('--vhd-directory applies to --mode delta only.');
  return {
    connection: { host: values.host, username: values.username, 'trust-fingerprint': values['trust-fingerprint'] },
    passwordFile: values['password-file'],
    vms: values.vm,
    mode: values.mode,
    compression,
    keep,
    fullInterval,
    useVhdDirectory: values['vhd-directory'] === true,
    speedLimit: sizeFlag('--speed-limit', values['speed-limit'], null),
    memoryBufferBytes: sizeFlag('--buffer', values.buffer, 64 * 1024 ** 2)!,
    spoolCapWanted: sizeFlag('--spool-cap', values['spool-cap'], 4 * 1024 ** 3)!,
    spoolDirWanted: values['spool-dir'] !== undefined ? path.resolve(values['spool-dir']) : undefined,
    remoteRoot: values.remote,
    encryptionKeyFile: values['encryption-key-file'],
    jobId: values['job-id'] ?? cliBackupJobId(values.job ?? values.mode),
    dataDir: values['data-dir'],
    json: values.json === true,
  };
}

function sizeFlag(flag: string, v: string | undefined, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  const n = parseSize(v);
  if (n === null || n <= 0) throw new UsageError(`${flag} takes a size like 64M or 4G, not "${v}".`);
  return n;
}

function pointCount(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new UsageError(`${flag} takes a whole number of points (1 or more), not "${v}".`);
  return Number(v);
}

/** One plan: the selected VMs to the one remote, one VM at a time. */
function backupPlan(args: BackupArgs, vms: SelectedVm[], spool: SpoolBudget): BackupPlan {
  return {
    runId: randomUUID(),
    jobId: args.jobId,
    mode: args.mode,
    vms,
    remotes: [
      { id: args.remoteRoot, root: args.remoteRoot, ...(args.useVhdDirectory ? { useVhdDirectory: true } : {}) },
    ],
    limits: {
      vmConcurrency: 1,
      speedLimitBytesPerSec: args.speedLimit,
      memoryBufferBytes: args.memoryBufferBytes,
      spoolDir: spool.dir,
      spoolCapBytes: spool.capBytes,
    },
    compression: args.compression,
    ...(args.keep !== undefined ? { retention: { keep: args.keep } } : {}),
    ...(args.fullInterval !== undefined ? { fullInterval: args.fullInterval } : {}),
  };
}

function reportSuccess(out: CommandOutput, vm: string, r: FullBackupResult): void {
  if (out.json) out.emit(resultEvent(vm, r));
  else out.log('info', `✔ ${vm}: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs / 1000)} → ${r.xvaPath}`);
}

function reportFailure(out: CommandOutput, vm: string, e: SluiceError): void {
  if (out.json) out.emit({ type: 'error', vm, code: e.code ?? 'INTERNAL', message: e.message, hint: e.hint });
  else out.log('error', `✘ ${vm}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
}

/** The command's error once every VM was tried: a cancel says so, otherwise it counts and names the failures. */
function runFailure(failures: Failure[], succeeded: number): SluiceError {
  const first = failures[0]!.error;
  if (first instanceof SluiceError && first.code === 'CANCELLED') {
    return new SluiceError(
      'CANCELLED',
      'The backup was cancelled. Temporary files and snapshots were removed; earlier backups are intact.',
    );
  }
  return new SluiceError(
    first instanceof SluiceError ? first.code : 'INTERNAL',
    `${failures.length} of ${failures.length + succeeded} VM backup(s) failed: ${failures.map((f) => `${f.vm}: ${f.error.message}`).join('; ')}`,
    {
      hint: first instanceof SluiceError ? first.hint : undefined,
    },
  );
}

/** The one line of --json output for a VM's point. */
function resultEvent(vm: string, r: FullBackupResult) {
  return {
    type: 'result',
    vm,
    vmUuid: r.vmUuid,
    point: r.pointId,
    bytes: r.bytes,
    attempts: r.attempts,
    durationMs: Math.round(r.durationMs),
    spoolPeakBytes: r.spoolPeakBytes,
    waitedForHostMs: Math.round(r.waitedForHostMs),
    waitedForDestinationMs: Math.round(r.waitedForDestinationMs),
    ...(r.retention
      ? { deletedPoints: r.retention.deleted.map((d) => d.id), keptPoints: r.retention.kept.map((k) => k.id) }
      : {}),
  };
}

/** A delta point reported in the shape the CLI prints for full points. */
function deltaAsFull(r: DeltaBackupResult): FullBackupResult {
  return {
    vmUuid: r.vmUuid,
    pointId: r.pointId,
    xvaPath: r.disks.map((d) => d.path).join(', '),
    bytes: r.bytes,
    attempts: 1,
    durationMs: r.durationMs,
    spoolPeakBytes: 0,
    waitedForHostMs: 0,
    waitedForDestinationMs: 0,
    ...(r.retention ? { retention: r.retention } : {}),
  };
}
