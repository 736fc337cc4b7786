import path from 'node:path';
import { checkRepository, type RepositoryProblem } from '../../repository/index.js';
import { ENCRYPTION_KEY_HELP, ENCRYPTION_KEY_OPTION, openCliRemote } from '../cli-remote.js';
import { defaultDataDir } from '../../settings/data-dir.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs } from '../command-args.js';
import { formatBytes } from '../../../src-shared/units.js';

export const checkHelp = `sluice check --remote DIR [--encryption-key-file FILE] [--repair] [--json]

Checks a repository folder: leftover temporary files, unfinished merges, VHDs of deleted points that still
need merging, orphan files no point uses, points whose VHD chain is broken or damaged, unreadable metadata.
With --repair, fixes what cannot lose anything (removes leftovers and orphans, resumes and finishes merges);
broken chains and damaged files are reported, never touched. Exits 1 when problems remain.

  --remote DIR   the repository folder
  --repair       fix what is safe to fix
  --json         one JSON event per line on stdout

${ENCRYPTION_KEY_HELP}
`;

type Emit = (o: unknown) => void;
// The repository's door names the check's function, not its option and report types.
type CheckReport = Awaited<ReturnType<typeof checkRepository>>;
type MergeProgress = NonNullable<NonNullable<Parameters<typeof checkRepository>[1]>['onMergeProgress']>;

export async function checkCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    { remote: { type: 'string' }, repair: { type: 'boolean' }, json: { type: 'boolean' }, ...ENCRYPTION_KEY_OPTION },
    checkHelp,
  );
  if (!values) return 0;
  if (!values.remote) throw new UsageError('--remote is required.');
  const json = values.json === true;
  const emit: Emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  const report = await checkRepository(
    await openCliRemote(values.remote, values['encryption-key-file'], { dataDir: defaultDataDir() }),
    {
      repair: values.repair === true,
      log: (message) =>
        json
          ? emit({ type: 'log', level: 'info', message, at: new Date().toISOString() })
          : process.stderr.write(`${message}\n`),
      onMergeProgress: mergeProgressPrinter(json, emit),
    },
  );
  reportProblems(report, json, emit);
  reportSummary(report, json, emit);
  return report.remaining.length > 0 ? 1 : 0;
}

function mergeProgressPrinter(json: boolean, emit: Emit): MergeProgress {
  let lastProgress = 0;
  return (p, pair) => {
    const now = Date.now();
    if (now - lastProgress < 250 && p.blocksDone < p.blocksTotal) return;
    lastProgress = now;
    if (json)
      emit({
        type: 'progress',
        phase: 'merge',
        file: path.join(pair.dir, pair.parent),
        blocksDone: p.blocksDone,
        blocksTotal: p.blocksTotal,
        bytesRead: p.bytesRead,
        bytesWritten: p.bytesWritten,
        totalBytes: p.bytesTotal,
      });
    else if (process.stderr.isTTY)
      process.stderr.write(
        `\r  merging ${pair.parent}: ${p.blocksDone}/${p.blocksTotal} blocks, ${formatBytes(p.bytesWritten)} written   `,
      );
  };
}

const problemKey = (p: RepositoryProblem) => `${p.kind}\0${p.path}`;

function problemEvent(p: RepositoryProblem, repaired: boolean) {
  return {
    type: 'problem',
    kind: p.kind,
    vmUuid: p.vmUuid,
    path: p.path,
    message: p.message,
    fixable: p.fixable,
    repaired,
  };
}

function reportProblems(report: CheckReport, json: boolean, emit: Emit): void {
  const remaining = new Set(report.remaining.map(problemKey));
  for (const p of report.found) {
    const fixed = report.repaired && !remaining.has(problemKey(p));
    if (json) emit(problemEvent(p, fixed));
    else
      process.stdout.write(
        `${fixed ? '✔ repaired' : '✘'} ${p.kind}: ${p.path}: ${p.message}${!fixed && !report.repaired && p.fixable ? ' (--repair fixes this)' : ''}\n`,
      );
  }
  // Repair can reveal what the first look could not see (a folder in use, a merge that failed).
  const foundKeys = new Set(report.found.map(problemKey));
  for (const p of report.remaining.filter((r) => !foundKeys.has(problemKey(r)))) {
    if (json) emit(problemEvent(p, false));
    else process.stdout.write(`✘ ${p.kind}: ${p.path}: ${p.message}\n`);
  }
}

function reportSummary(report: CheckReport, json: boolean, emit: Emit): void {
  const remaining = new Set(report.remaining.map(problemKey));
  const summary = {
    vmFolders: report.vmFolders,
    points: report.points,
    vhds: report.vhds,
    found: report.found.length,
    repaired: report.found.length - report.found.filter((p) => remaining.has(problemKey(p))).length,
    remaining: report.remaining.length,
  };
  if (json) emit({ type: 'summary', ...summary });
  else {
    process.stdout.write(
      `${summary.vmFolders} VM folder(s), ${summary.points} point(s), ${summary.vhds} VHD(s) checked: ${summary.found} problem(s) found${report.repaired ? `, ${summary.repaired} repaired` : ''}, ${summary.remaining} remaining.\n`,
    );
    if (!report.repaired && report.remaining.some((p) => p.fixable))
      process.stdout.write('Run again with --repair to fix what is safe to fix.\n');
  }
}
