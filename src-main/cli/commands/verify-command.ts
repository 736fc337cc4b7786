import { SluiceError } from '../../errors/sluice-error.js';
import { listBackupPoints, type BackupPoint, type FileVerifyCache, verifyPoint } from '../../repository/index.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs } from '../command-args.js';
import { formatBytes } from '../../../src-shared/units.js';
import { ProgressRenderer } from '../progress-renderer.js';
import { flowEnds } from '../../../src-shared/bottleneck-words.js';

export const verifyHelp = `sluice verify --remote DIR [--encryption-key-file FILE] [--vm NAME_OR_UUID] [--at TIMESTAMP|latest] [--json]

Re-reads backup points and checks every checksum and the structure of each file: the XVA's chunk checksums and
checksum file of a full point; every VHD of the chain of an incremental point (footer, header, BAT, links
between files, and the digest of every block recorded when it was written). A damaged point is named with its
file and byte offset or block. Exits 1 if any point is damaged. Shows a progress bar per VM on a terminal;
--json prints one event a line (progress, verified, damaged, structure-only, unreadable).

${ENCRYPTION_KEY_HELP}
`;

export function selectPoints(points: BackupPoint[], vm: string | undefined, at: string | undefined): BackupPoint[] {
  let out = points;
  if (vm) {
    out = out.filter((p) => p.vmUuid === vm.toLowerCase() || p.vmName === vm);
    if (out.length === 0)
      throw new SluiceError('NOT_FOUND', `No backup of a VM named or with uuid "${vm}" in this repository.`, {
        hint: 'Run `npx sluice list --remote DIR` to see what it holds.',
      });
  }
  if (at === 'latest') {
    const latest = new Map<string, BackupPoint>();
    for (const p of out)
      if ((latest.get(p.vmUuid)?.timestamp.getTime() ?? -1) < p.timestamp.getTime()) latest.set(p.vmUuid, p);
    out = [...latest.values()];
  } else if (at) {
    out = out.filter((p) => p.id === at);
    if (out.length === 0)
      throw new SluiceError('NOT_FOUND', `No backup point ${at}${vm ? ` of ${vm}` : ''}.`, {
        hint: 'Points are named like 20250101T020000Z; see `npx sluice list`.',
      });
  }
  return out;
}

export async function verifyCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      remote: { type: 'string' },
      vm: { type: 'string' },
      at: { type: 'string' },
      json: { type: 'boolean' },
      ...ENCRYPTION_KEY_OPTION,
    },
    verifyHelp,
  );
  if (!values) return 0;
  if (!values.remote) throw new UsageError('--remote is required.');
  const { points, unreadable } = await listBackupPoints(
    await openCliRemote(values.remote, values['encryption-key-file'], { dataDir: defaultDataDir() }),
  );
  const selected = selectPoints(points, values.vm, values.at);
  let damaged = unreadable.length;
  for (const u of unreadable) {
    if (values.json)
      process.stdout.write(JSON.stringify({ type: 'unreadable', path: u.path, reason: u.reason }) + '\n');
    else process.stderr.write(`✘ cannot read ${u.path}: ${u.reason}\n`);
  }
  const cache: FileVerifyCache = new Map();
  // A bar per VM on a terminal, as backup and restore draw; results go to stdout above the bars.
  const renderer = values.json ? undefined : new ProgressRenderer(process.stderr, flowEnds('verify'));
  const emit = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
  const say = (line: string, to: NodeJS.WritableStream = process.stdout) => renderer!.log(line, to);
  try {
    for (const p of selected) {
      try {
        const r = await verifyPoint(p, {
          cache,
          onProgress: (prog) => (values.json ? emit({ type: 'progress', ...prog }) : renderer!.update(prog)),
        });
        for (const s of r.structureOnly) {
          if (values.json) emit({ type: 'structure-only', vm: p.vmName, point: p.id, file: s.file, reason: s.reason });
          else say(`  note: ${s.file}: structure checked only (${s.reason})`, process.stderr);
        }
        if (values.json)
          emit({ type: 'verified', vm: p.vmName, vmUuid: p.vmUuid, point: p.id, mode: p.mode, bytes: r.bytes });
        else say(`✔ ${p.vmName} ${p.id}: ${formatBytes(r.bytes)} verified`);
      } catch (err) {
        damaged++;
        const e = err instanceof SluiceError ? err : new SluiceError('INTERNAL', (err as Error).message);
        if (values.json)
          emit({
            type: 'damaged',
            vm: p.vmName,
            vmUuid: p.vmUuid,
            point: p.id,
            message: e.message,
            hint: e.hint,
            context: e.context,
          });
        else say(`✘ ${e.message}\n  hint: ${e.hint ?? ''}`);
      }
    }
  } finally {
    renderer?.stop();
  }
  if (!values.json)
    process.stdout.write(
      `${selected.length - damaged >= 0 ? selected.length : 0} point(s) checked, ${damaged} damaged.\n`,
    );
  return damaged > 0 ? 1 : 0;
}
