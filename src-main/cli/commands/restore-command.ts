import { randomUUID } from 'node:crypto';
import { listBackupPoints, type BackupPoint } from '../../repository/index.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { restoreDisk } from '../../restore/restore-disk.js';
import type { RestoredDisk, RestoreOptions, RestoreResult } from '../../restore/restore-options.js';
import { restorePoint } from '../../restore/restore-point.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { ConfSettingsStore } from '../../settings/conf-settings-store.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs, requireFlags } from '../command-args.js';
import { formatBytes, formatDuration, parseSize } from '../../../src-shared/units.js';
import { connectWithFlags, readPasswordFile, HOST_CONNECTION_OPTIONS } from '../host-connection.js';
import { selectOnePoint } from '../point-selection.js';
import { CommandOutput } from '../command-output.js';
import { cancelOnSignal } from '../cancel-on-signal.js';
import { spoolBudget } from '../../runs/spool-budget.js';
import { defaultSettings } from '../../settings/settings-schema.js';
import { flowEnds } from '../../../src-shared/bottleneck-words.js';

export const restoreHelp = `sluice restore --remote DIR [--encryption-key-file FILE] --vm NAME_OR_UUID [--at TIMESTAMP|latest]
               --host URL --username U --password-file F [--trust-fingerprint SHA256]
               [--sr UUID] [--disk-sr DISK=SR_UUID]... [--name NEW] [--start]
               [--disk VDI_UUID_OR_POSITION] [--json]

Restores a backup point (full or incremental) to the pool as a new VM, its data checked as it is read; a
damaged point is refused, naming the damage and the nearest good point. Ctrl-C cancels and removes what was
created on the host.

  --remote DIR              the repository folder
  --vm NAME_OR_UUID         the backed-up VM
  --at TIMESTAMP|latest     the point (e.g. 20250101T020000Z; default latest)
  --host URL                the pool (coordinator or member)
  --username U, --password-file F, --trust-fingerprint SHA   as for \`sluice backup\`
  --sr UUID                 the SR of the disks (default: the pool's default SR)
  --disk-sr DISK=SR_UUID    this disk onto that SR instead (repeatable); DISK is the disk's position
                            (0, 1…) or its VDI uuid as the point records it. A full point is imported onto
                            the SR most disks want, then the others are copied onto theirs
  --name NEW                the new VM's name (default: the backed-up VM's name and the point's date,
                            e.g. "erp-db (2026-12-04 02:00 UTC)"); with --disk, the VDI's
  --start                   start the VM once restored
  --disk UUID_OR_POSITION   restore only this disk, into a new VDI on the SR, attached to nothing
  --speed-limit RATE        e.g. 50M (bytes/s)
  --data-dir DIR            where approved certificates are remembered
  --json                    one JSON event per line on stdout instead of progress bars

${ENCRYPTION_KEY_HELP}
`;

export async function restoreCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      remote: { type: 'string' },
      ...ENCRYPTION_KEY_OPTION,
      vm: { type: 'string' },
      at: { type: 'string' },
      ...HOST_CONNECTION_OPTIONS,
      sr: { type: 'string' },
      'disk-sr': { type: 'string', multiple: true },
      name: { type: 'string' },
      start: { type: 'boolean' },
      disk: { type: 'string' },
      'speed-limit': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    restoreHelp,
  );
  if (!values) return 0;
  requireFlags(values, ['remote', 'vm', 'host', 'username', 'password-file']);
  if (values.disk && values.start)
    throw new UsageError('--start restores a whole VM; a single --disk is restored attached to nothing.');
  if (values.disk && values['disk-sr'])
    throw new UsageError('--disk-sr places the disks of a whole VM; with --disk, choose the SR with --sr.');
  const diskSrs = parseDiskSrs(values['disk-sr'] ?? []);
  const speedLimit = values['speed-limit'] === undefined ? null : parseSize(values['speed-limit']);
  if (speedLimit !== null && !(speedLimit > 0))
    throw new UsageError(`--speed-limit takes a rate like 50M, not "${values['speed-limit']}".`);
  const out = new CommandOutput(values.json === true, flowEnds('restore'));
  const { log } = out;

  // The point first: a wrong --vm or --at must not cost a login.
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const { points } = await listBackupPoints(
    await openCliRemote(values.remote, values['encryption-key-file'], { dataDir }),
  );
  const point = selectOnePoint(points, values.vm, values.at);
  const password = await readPasswordFile(values['password-file']);
  const settings = new ConfSettingsStore(dataDir);
  const cancel = cancelOnSignal(() =>
    log('warn', 'Cancelling: stopping the import on the host and removing what it created…'),
  );
  try {
    const xapi = await connectWithFlags(settings, values, password, cancel.signal);
    try {
      log('info', `Restoring ${point.vmName} ${point.id} (${point.mode}) to ${xapi.url}…`);
      // The same buffer, spool folder and spool rule as a restore started from the app.
      const defaults = defaultSettings().preferences;
      const spool = await spoolBudget(defaults.spoolCapBytes, defaults.spoolDir);
      const opts: RestoreOptions = {
        runId: randomUUID(),
        srUuid: values.sr,
        ...(diskSrs ? { diskSrs } : {}),
        name: values.name,
        start: values.start === true,
        memoryBufferBytes: defaults.memoryBufferBytes,
        spoolDir: spool.dir,
        spoolCapBytes: spool.capBytes,
        speedLimitBytesPerSec: speedLimit,
        points,
        signal: cancel.signal,
        log,
        onProgress: out.progress,
      };
      if (values.disk) reportDisk(out, point, await restoreDisk(xapi, point, values.disk, opts));
      else reportVm(out, point, await restorePoint(xapi, point, opts));
    } finally {
      await xapi.close();
    }
  } finally {
    out.stop();
    cancel.dispose();
  }
  return 0;
}

function reportDisk(out: CommandOutput, point: BackupPoint, r: RestoredDisk & { durationMs: number }): void {
  if (out.json)
    out.emit({
      type: 'result',
      vm: point.vmName,
      point: point.id,
      disk: r.position,
      vdiUuid: r.vdiUuid,
      srUuid: r.srUuid,
      bytes: r.bytes,
      durationMs: Math.round(r.durationMs),
    });
  else
    out.log(
      'info',
      `✔ disk ${r.position} ("${r.name}") restored as VDI ${r.vdiUuid} on SR ${r.srUuid}: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs / 1000)}`,
    );
}

function reportVm(out: CommandOutput, point: BackupPoint, r: RestoreResult): void {
  if (out.json)
    out.emit({
      type: 'result',
      vm: point.vmName,
      point: point.id,
      vmUuid: r.vmUuid,
      name: r.name,
      started: r.started,
      disks: r.disks.map((d) => ({ position: d.position, vdiUuid: d.vdiUuid, srUuid: d.srUuid })),
      bytes: r.bytes,
      durationMs: Math.round(r.durationMs),
    });
  else
    out.log(
      'info',
      `✔ ${point.vmName} ${point.id} restored as "${r.name}" (${r.vmUuid})${r.started ? ', started' : ''}: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs / 1000)}`,
    );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--disk-sr DISK=SR_UUID`, repeated, as RestoreOptions.diskSrs. Whether the disk and the SR exist is the restore's to check. */
export function parseDiskSrs(values: string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const disk = value.slice(0, at).trim();
    const sr = value.slice(at + 1).trim();
    if (at < 0 || !disk || !UUID.test(sr)) {
      throw new UsageError(
        `--disk-sr takes DISK=SR_UUID (the disk's position or uuid, then the SR's uuid), e.g. 1=6a7b3c4d-0000-4000-8000-000000000001; not "${value}".`,
      );
    }
    const key = disk.toLowerCase();
    if (out[key] !== undefined && out[key] !== sr.toLowerCase())
      throw new UsageError(`--disk-sr names disk ${disk} twice, with two SRs.`);
    out[key] = sr.toLowerCase();
  }
  return out;
}
