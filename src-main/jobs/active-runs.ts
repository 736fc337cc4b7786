import type { RunSummary } from '../../src-shared/job-schemas.js';

export interface ActiveRun {
  runId: string;
  startedAt: Date;
  controller: AbortController;
}

/**
 * The runs of this process: at most one per job (claimed synchronously, so two quick clicks cannot both start
 * one), each with its abort controller, and their ends, which closing waits for.
 */
export class ActiveRuns {
  private readonly byJob = new Map<string, ActiveRun>();
  private readonly ends = new Set<Promise<RunSummary>>();

  ofJob(jobId: string): ActiveRun | undefined {
    return this.byJob.get(jobId);
  }

  find(runId: string): ActiveRun | undefined {
    return [...this.byJob.values()].find((a) => a.runId === runId);
  }

  claim(jobId: string, runId: string): ActiveRun {
    const run: ActiveRun = { runId, startedAt: new Date(), controller: new AbortController() };
    this.byJob.set(jobId, run);
    return run;
  }

  free(jobId: string): void {
    this.byJob.delete(jobId);
  }

  /** Keeps a run's end until it settles, for settled(). */
  track(done: Promise<RunSummary>): void {
    this.ends.add(done);
    void done.finally(() => this.ends.delete(done)).catch(() => {});
  }

  abort(runId: string, reason: Error): boolean {
    const run = this.find(runId);
    if (!run) return false;
    run.controller.abort(reason);
    return true;
  }

  abortAll(reason: Error): void {
    for (const a of this.byJob.values()) a.controller.abort(reason);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.ends]);
  }
}
