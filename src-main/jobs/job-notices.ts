import type { Job } from '../../src-shared/contract/jobs.js';
import type { RunSummary, SluiceNotification } from '../../src-shared/contract/runs.js';
import type { JobsContext } from './jobs-context.js';

export type LogLevel = 'info' | 'warn' | 'error';

/** What the jobs tell the user: engine log lines, and desktop notifications as the preferences ask. */
export class JobNotices {
  constructor(private readonly ctx: JobsContext) {}

  log(level: LogLevel, message: string, context: Record<string, string> = {}): void {
    this.ctx.bus.emit('engine.log', { level, message, at: new Date().toISOString(), context });
  }

  notify(kind: SluiceNotification['kind'], title: string, body: string, run: RunSummary | null): void {
    const p = this.ctx.settings.get().preferences;
    const wanted = kind === 'success' ? p.notifyOnSuccess : kind === 'missed' ? p.notifyOnMissed : p.notifyOnFailure;
    if (!wanted) return;
    this.ctx.bus.emit('notification', {
      kind,
      title,
      body,
      jobId: run?.jobId ?? null,
      runId: run?.runId ?? null,
      at: new Date().toISOString(),
    });
  }

  /** A run's end: the event, a notification (success or failure), a log line. */
  runEnded(job: Job, summary: RunSummary): void {
    this.ctx.bus.emit('runs.finished', structuredClone(summary));
    const failed = summary.vms.filter((v) => v.status === 'failed').length;
    if (summary.status === 'success') {
      this.notify('success', `Backup done: ${job.name}`, `${summary.vms.length} VM backup(s) done.`, summary);
    } else if (summary.status === 'failed' || summary.status === 'partial') {
      const first = summary.vms.find((v) => v.error)?.error ?? summary.errors[0];
      this.notify(
        'failure',
        `Backup failed: ${job.name}`,
        `${failed ? `${failed} of ${summary.vms.length} VM backup(s) failed` : 'The run failed'}${first ? `: ${first.message}` : '.'}`,
        summary,
      );
    }
    this.log(
      summary.status === 'success' ? 'info' : summary.status === 'cancelled' ? 'warn' : 'error',
      `Job "${job.name}" ended: ${summary.status}.`,
      { jobId: job.id, runId: summary.runId },
    );
  }
}

/** Log context of a run: its id, and its job's when it has one. */
export function runContext(run: RunSummary): Record<string, string> {
  return { ...(run.jobId !== null ? { jobId: run.jobId } : {}), runId: run.runId };
}
