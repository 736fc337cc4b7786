import { randomUUID } from 'node:crypto';
import { flowEnds } from '../../../src-shared/bottleneck-words.js';
import { formatBytes } from '../../../src-shared/units.js';
import { runMirror } from '../../mirror/mirror-run.js';
import { cancelOnSignal } from '../cancel-on-signal.js';
import { openCliRemote } from '../cli-remote.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs, requireFlags } from '../command-args.js';
import { CommandOutput } from '../command-output.js';

export const mirrorHelp = `sluice mirror --from REMOTE --to REMOTE [--vm NAME_OR_UUID ...] [--retention N] [--json]
              [--from-encryption-key-file FILE] [--to-encryption-key-file FILE] [--data-dir DIR]

Copies the backup points of one remote to another without touching any host (Xen Orchestra's mirror job):
for each VM, job and mode, the points the target lacks, oldest first (an incremental chain's full VHD before
its deltas; files the target already holds are not sent again, so a stopped copy goes on where it stopped).
Every file is checked as it passes (an XVA against its checksum file) and a point appears on the target only
when whole: its metadata is written last. Nothing on the source is changed.
  --vm          only these VMs (repeat the flag for several)
  --retention   points kept on the target per VM, job and mode; only those are sent, older ones are deleted
                (their disks merged into the next point), as a backup job's retention does
  --from-encryption-key-file FILE, --to-encryption-key-file FILE
                the key of an encrypted source or target (a file holding its 32 characters, chmod 600)
  --data-dir    Sluice's data folder, where it remembers the remotes it marked (an unmounted share is refused)
Exit code 1 when any point could not be copied.
`;

export async function mirrorCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      vm: { type: 'string', multiple: true },
      retention: { type: 'string' },
      'from-encryption-key-file': { type: 'string' },
      'to-encryption-key-file': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    mirrorHelp,
  );
  if (!values) return 0;
  requireFlags(values, ['from', 'to']);
  let retention: number | undefined;
  if (values.retention !== undefined) {
    retention = Number(values.retention);
    if (!Number.isInteger(retention) || retention < 1)
      throw new UsageError(`--retention takes a whole number of points, 1 or more, not "${values.retention}".`);
  }
  const json = values.json === true;
  const out = new CommandOutput(json, flowEnds('mirror'));
  // An unmounted share is refused on either side; the target is marked before its first write (remote-marker.ts).
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const from = await openCliRemote(values.from, values['from-encryption-key-file'], { dataDir });
  const to = await openCliRemote(values.to, values['to-encryption-key-file'], { dataDir, forWriting: true });
  const cancel = cancelOnSignal();
  try {
    const r = await runMirror({
      from,
      to,
      vms: values.vm ?? [],
      retention: retention === undefined ? undefined : { keep: retention },
      runId: randomUUID(),
      signal: cancel.signal,
      log: out.log,
      onProgress: out.progress,
    });
    const bytes = r.copied.reduce((n, c) => n + c.bytes, 0);
    if (json)
      out.emit({
        type: 'result',
        copied: r.copied,
        alreadyThere: r.alreadyThere,
        deletedOnTarget: r.deletedOnTarget,
        failed: r.failed.map((f) => ({ vm: f.vm, point: f.point, message: f.error.message })),
      });
    else
      out.log(
        r.failed.length ? 'warn' : 'info',
        `${r.failed.length ? '✖' : '✔'} ${r.copied.length} point(s) copied (${formatBytes(bytes)}), ${r.alreadyThere} already on the target` +
          `${r.deletedOnTarget.length ? `, ${r.deletedOnTarget.length} deleted on the target by retention` : ''}` +
          `${r.failed.length ? `, ${r.failed.length} failed` : ''}.`,
      );
    return r.failed.length ? 1 : 0;
  } finally {
    out.stop();
    cancel.dispose();
  }
}
