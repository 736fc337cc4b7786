import { listBackupPoints } from '../../repository/index.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs } from '../command-args.js';
import { formatBytes } from '../../../src-shared/units.js';

export const listHelp = `sluice list --remote DIR [--encryption-key-file FILE] [--json]

Lists the backup points in a repository folder (Sluice's or Xen Orchestra's), per VM, oldest first.

${ENCRYPTION_KEY_HELP}
`;

export async function listCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    { remote: { type: 'string' }, json: { type: 'boolean' }, ...ENCRYPTION_KEY_OPTION },
    listHelp,
  );
  if (!values) return 0;
  if (!values.remote) throw new UsageError('--remote is required.');
  const { points, unreadable } = await listBackupPoints(
    await openCliRemote(values.remote, values['encryption-key-file'], { dataDir: defaultDataDir() }),
  );
  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        points: points.map((p) => ({
          vmUuid: p.vmUuid,
          vmName: p.vmName,
          id: p.id,
          timestamp: p.timestamp.toISOString(),
          mode: p.mode,
          jobId: p.jobId,
          size: p.size ?? null,
        })),
        unreadable,
      }) + '\n',
    );
    return 0;
  }
  if (points.length === 0) process.stdout.write(`No backup points in ${values.remote}.\n`);
  let current = '';
  for (const p of points) {
    if (p.vmUuid !== current) {
      current = p.vmUuid;
      process.stdout.write(`${p.vmName} (${p.vmUuid})\n`);
    }
    process.stdout.write(
      `  ${p.id}  ${p.mode.padEnd(5)}  ${p.size === undefined ? '?' : formatBytes(p.size)}  job ${p.jobId}\n`,
    );
  }
  for (const u of unreadable) process.stderr.write(`warning: cannot read ${u.path}: ${u.reason}\n`);
  return 0;
}
