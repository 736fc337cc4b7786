import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { requireExportFolder } from '../../export/export-destination.js';
import { exportPoint, type ExportFormat } from '../../export/export-point.js';
import { listBackupPoints } from '../../repository/index.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs, requireFlags } from '../command-args.js';
import { formatBytes, formatDuration } from '../../../src-shared/units.js';
import { selectOnePoint } from '../point-selection.js';
import { CommandOutput } from '../command-output.js';
import { cancelOnSignal } from '../cancel-on-signal.js';
import { flowEnds } from '../../../src-shared/bottleneck-words.js';

export const exportHelp = `sluice export --remote DIR [--encryption-key-file FILE] --vm NAME_OR_UUID [--at TIMESTAMP|latest] --format xva|vhd|raw --out PATH
              [--disk VDI_UUID_OR_POSITION] [--json]

Exports a backup point to standalone files, checked as they are read:
  xva   one XVA file, importable by XCP-ng, XenServer and Xen Orchestra (an incremental point is rebuilt into one)
  vhd   one dynamic VHD per disk (an incremental chain flattened)
  raw   one raw image per disk (sparse)
With vhd or raw, --out is the file when the point has one disk (or --disk picks one); otherwise a folder that
receives <vm>-<point>-disk<position>.<format> files. The folder that holds --out must exist (a missing one
is an unmounted drive or a typo); only the folder --out names for several disks is created, and said.
All or nothing: the files appear only when all are complete (a failure or Ctrl-C leaves none), and an
existing file is never replaced (the export is refused before writing anything).

${ENCRYPTION_KEY_HELP}
`;

const FORMATS = ['xva', 'vhd', 'raw'] as const;

export async function exportCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      remote: { type: 'string' },
      ...ENCRYPTION_KEY_OPTION,
      vm: { type: 'string' },
      at: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      disk: { type: 'string' },
      json: { type: 'boolean' },
    },
    exportHelp,
  );
  if (!values) return 0;
  requireFlags(values, ['remote', 'vm', 'format', 'out']);
  if (!(FORMATS as readonly string[]).includes(values.format!))
    throw new UsageError(`--format takes xva, vhd or raw, not "${values.format}".`);
  if (values.format === 'xva' && values.disk)
    throw new UsageError('--disk goes with --format vhd or raw: an XVA holds the whole VM.');
  const json = values.json === true;
  const out = new CommandOutput(json, flowEnds('export'));
  const { log } = out;
  const emit = (obj: unknown) => out.emit(obj);
  const { points } = await listBackupPoints(
    await openCliRemote(values.remote!, values['encryption-key-file'], { dataDir: defaultDataDir() }),
  );
  await requireExportFolder(values.out!);
  const point = selectOnePoint(points, values.vm, values.at);
  const cancel = cancelOnSignal();
  try {
    const r = await exportPoint(point, {
      format: values.format as ExportFormat,
      out: path.resolve(values.out!),
      disk: values.disk,
      runId: randomUUID(),
      signal: cancel.signal,
      log,
      onProgress: out.progress,
    });
    if (json)
      emit({
        type: 'result',
        vm: point.vmName,
        point: point.id,
        format: values.format,
        files: r.files,
        durationMs: Math.round(r.durationMs),
      });
    else
      for (const f of r.files)
        log(
          'info',
          `✔ ${f.path}: ${formatBytes(f.bytes)}${f.position !== null ? ` (disk ${f.position})` : ''} in ${formatDuration(r.durationMs / 1000)}`,
        );
  } finally {
    out.stop();
    cancel.dispose();
  }
  return 0;
}
