import type { RunSummary } from '../../src-shared/contract/runs.js';
import type { OperationRegistry } from '../runs/operation-registry.js';

export interface ActiveRun {
  runId: string;
  startedAt: Date;
  signal: AbortSignal;
  end: () => void;
}

/**
 * The job runs of this process: at most one per job (claimed synchronously, so two quick clicks cannot both
 * start one), each registered in the engine's one registry of runs (which cancels it), and their ends, which
 * closing waits for.
 */
export class ActiveRuns {
  private readonly byJob = new Map<string, ActiveRun>();
  private readonly ends = new Set<Promise<RunSummary>>();

  constructor(private readonly registry: OperationRegistry) {}

  ofJob(jobId: string): ActiveRun | undefined {
    return this.byJob.get(jobId);
  }

  find(runId: string): ActiveRun | undefined {
    return [...this.byJob.values()].find((a) => a.runId === runId);
  }

  claim(jobId: string, runId: string): ActiveRun {
    const op = this.registry.begin(runId, 'job-run');
    const run: ActiveRun = { runId, startedAt: new Date(), ...op };
    this.byJob.set(jobId, run);
    return run;
  }

  free(jobId: string): void {
    this.byJob.get(jobId)?.end();
    this.byJob.delete(jobId);
  }

  /** Keeps a run's end until it settles, for settled(). */
  track(done: Promise<RunSummary>): void {
    this.ends.add(done);
    void done.finally(() => this.ends.delete(done)).catch(() => {});
  }

  cancel(runId: string): boolean {
    return this.registry.cancel(runId, ['job-run']);
  }

  cancelAll(): void {
    this.registry.cancelAll(['job-run']);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.ends]);
  }
}
