import type { RunSummary } from '../../src-shared/contract/runs.js';
import { formatBytes, formatDuration, formatRate } from '../../src-shared/units.js';

const STATUS_WORDS: Record<RunSummary['status'], string> = {
  running: 'RUNNING',
  success: 'SUCCEEDED',
  partial: 'PARTLY FAILED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
  interrupted: 'INTERRUPTED',
  missed: 'MISSED',
  skipped: 'SKIPPED',
};

/** The run named in a sentence: `job "Nightly"`, or `"Back up now: web01"` for a run with no job. */
export function runTitle(run: Pick<RunSummary, 'jobId' | 'jobName'>): string {
  return run.jobId === null ? `"${run.jobName}"` : `job "${run.jobName}"`;
}

/** A file name for a saved summary: the job, the start time, nothing a file system objects to. */
export function summaryFileName(run: RunSummary): string {
  const safe = run.jobName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'job';
  return `sluice-${safe}-${run.startedAt.replace(/[-:]/g, '').replace(/\.\d{3}/, '')}.txt`;
}

/** The run in plain text, to copy into a ticket or a mail: what ran, what came of each VM, and why not. */
export function formatRunSummary(run: RunSummary): string {
  const lines: string[] = [];
  const ok = run.vms.filter((v) => v.status === 'success').length;
  lines.push(
    `Sluice ${runTitle(run)}: ${STATUS_WORDS[run.status]}${run.vms.length ? ` (${ok} of ${run.vms.length} ${run.mirrorFrom ? 'VM copies' : 'VM backups'} done)` : ''}`,
  );
  const trigger =
    run.trigger === 'manual'
      ? 'run by hand'
      : run.trigger === 'missed'
        ? `missed run (due ${run.scheduledFor}) run at start`
        : `scheduled for ${run.scheduledFor}`;
  const points = run.mode === 'full' ? 'full' : 'incremental';
  lines.push(
    `Run ${run.runId}, ${trigger}, ${run.mirrorFrom ? `mirror of the ${points} points of ${run.mirrorFrom.name}` : `${points} backup`}`,
  );
  const duration = run.finishedAt
    ? ` (${formatDuration((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000)})`
    : '';
  lines.push(`Started ${run.startedAt}${run.finishedAt ? `, ended ${run.finishedAt}${duration}` : ', still running'}`);
  if (run.remotes.length)
    lines.push(`${run.mirrorFrom ? 'Copied to' : 'Remotes'}: ${run.remotes.map((r) => r.name).join(', ')}`);
  if (run.bytes > 0)
    lines.push(
      `Transferred ${formatBytes(run.bytes)}, average ${formatRate(run.averageBytesPerSec)}, peak ${formatRate(run.peakBytesPerSec)}`,
    );
  if (run.vms.length) {
    lines.push('', 'VMs:');
    const remoteName = (id: string) => run.remotes.find((r) => r.id === id)?.name ?? id;
    for (const v of run.vms) {
      const mark =
        v.status === 'success' ? 'OK  ' : v.status === 'failed' ? 'FAIL' : v.status.toUpperCase().slice(0, 4).padEnd(4);
      const what =
        v.status === 'success'
          ? `${run.mirrorFrom ? 'newest point' : 'point'} ${v.pointId}, ${formatBytes(v.bytes)}, ${formatRate(v.averageBytesPerSec)} average, ${formatRate(v.peakBytesPerSec)} peak`
          : (v.error?.message ?? v.status);
      lines.push(`  ${mark} ${v.vmName} -> ${remoteName(v.remoteId)}: ${what}`);
      if (v.status === 'success' && v.disks.length > 1) {
        for (const d of v.disks)
          lines.push(
            `         ${d.name}: ${formatBytes(d.bytes)}${d.differencing === true ? ' (incremental)' : d.differencing === false ? ' (full VHD)' : ''}`,
          );
      }
      if (v.error?.cause) lines.push(`         cause: ${v.error.cause}`);
      if (v.error?.hint) lines.push(`         hint: ${v.error.hint}`);
    }
  }
  if (run.errors.length) {
    lines.push('', 'Errors:');
    for (const e of run.errors) {
      lines.push(`  ${e.message}`);
      if (e.cause) lines.push(`    cause: ${e.cause}`);
      if (e.hint) lines.push(`    hint: ${e.hint}`);
    }
  }
  if (run.warnings.length) {
    lines.push('', 'Warnings:');
    for (const w of run.warnings) lines.push(`  ${w.at} ${w.message}`);
  }
  return lines.join('\n') + '\n';
}
