import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  runRecordSchema,
  runSampleSchema,
  runSummarySchema,
  type RunRecord,
  type RunSample,
  type RunSummary,
} from '../../src-shared/contract/runs.js';
import { SluiceError } from '../errors/sluice-error.js';
import { readJsonIfExists } from '../core/optional-file.js';
import { replaceJsonFile, WriteQueue } from './json-file.js';

export const RUNS_DIR = 'runs';
const KEEP_RUNS_PER_JOB = 200;

const ownerSchema = z.object({ pid: z.number().int(), hostname: z.string() });
const storedRunSchema = runSummarySchema.extend({ owner: ownerSchema });
type StoredRun = z.infer<typeof storedRunSchema>;
export type RunOwner = z.infer<typeof ownerSchema>;

const UUIDISH = /^[A-Za-z0-9-]{1,100}$/;

/**
 * The persisted history of runs (of jobs, and of "Back up now", whose jobId is null): `<dataDir>/runs/<runId>.json` (the summary, rewritten as the run goes:
 * at start, as each VM starts and ends, at the end) and `<runId>.samples.json` (throughput samples, for the
 * graph). A record still "running" whose process is gone is a run a crash or a power cut interrupted.
 */
export class RunHistory {
  readonly dir: string;
  private readonly queues = new Map<string, WriteQueue>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, RUNS_DIR);
  }

  private file(runId: string, samples = false): string {
    if (!UUIDISH.test(runId)) throw new SluiceError('VALIDATION', `"${runId.slice(0, 100)}" is not a run id.`);
    return path.join(this.dir, samples ? `${runId}.samples.json` : `${runId}.json`);
  }

  private queue(runId: string): WriteQueue {
    let q = this.queues.get(runId);
    if (!q) this.queues.set(runId, (q = new WriteQueue()));
    return q;
  }

  /** Writes the summary (and the samples when given); writes of one run are kept in order. */
  async write(
    summary: RunSummary,
    samples?: RunSample[],
    owner: RunOwner = { pid: process.pid, hostname: os.hostname() },
  ): Promise<void> {
    const stored: StoredRun = { ...runSummarySchema.parse(summary), owner };
    await this.queue(summary.runId).run(async () => {
      if (samples) await replaceJsonFile(this.file(summary.runId, true), samples);
      await replaceJsonFile(this.file(summary.runId), stored);
    });
    if (summary.status !== 'running') this.queues.delete(summary.runId);
  }

  private async readStored(runId: string): Promise<StoredRun | undefined> {
    const raw = await readJsonIfExists(this.file(runId)).catch(() => undefined);
    const parsed = storedRunSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async get(runId: string): Promise<RunRecord> {
    const stored = await this.readStored(runId);
    if (!stored)
      throw new SluiceError('NOT_FOUND', `No run ${runId} in the history.`, {
        hint: 'It may have been pruned (Sluice keeps the last 200 runs of each job, and of "Back up now").',
      });
    const rawSamples = await readJsonIfExists(this.file(runId, true)).catch(() => undefined);
    const samples = z.array(runSampleSchema).safeParse(rawSamples ?? []);
    const { owner: _owner, ...summary } = stored;
    return runRecordSchema.parse({ ...summary, samples: samples.success ? samples.data : [] });
  }

  private async all(): Promise<StoredRun[]> {
    const names = await fs.readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const out: StoredRun[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || n.endsWith('.samples.json') || n.startsWith('.')) continue;
      const r = await this.readStored(n.slice(0, -'.json'.length));
      if (r) out.push(r);
    }
    return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId));
  }

  /** Newest first: job runs and "Back up now" runs alike (a jobId keeps that job's only). */
  async list(opts: { jobId?: string; limit?: number } = {}): Promise<RunSummary[]> {
    const runs = (await this.all()).filter((r) => !opts.jobId || r.jobId === opts.jobId);
    return runs.slice(0, opts.limit ?? 50).map(({ owner: _owner, ...s }) => s);
  }

  /** Records left "running" by a process that is no longer there: marked interrupted, returned. */
  async recoverInterrupted(isLive: (run: RunSummary, owner: RunOwner) => boolean, now: Date): Promise<RunSummary[]> {
    const recovered: RunSummary[] = [];
    for (const r of await this.all()) {
      if (r.status !== 'running') continue;
      const { owner, ...summary } = r;
      if (isLive(summary, owner)) continue;
      const stat = await fs.stat(this.file(r.runId)).catch(() => undefined);
      const lastSeen = stat ? stat.mtime : now;
      const fixed: RunSummary = {
        ...summary,
        status: 'interrupted',
        finishedAt: lastSeen.toISOString(),
        vms: summary.vms.map((v) =>
          v.status === 'running' || v.status === 'pending'
            ? { ...v, status: 'cancelled', finishedAt: v.status === 'running' ? lastSeen.toISOString() : null }
            : v,
        ),
        errors: [
          ...summary.errors,
          {
            code: 'INTERNAL',
            message: `The run was interrupted (Sluice stopped during it: a crash, a forced quit or a power cut); it was last heard of at ${lastSeen.toISOString()}.`,
            hint: 'Its temporary files and snapshots are removed at the next start or the next run. Run the job again to get a fresh point.',
          },
        ],
      };
      await this.write(fixed, undefined, owner);
      recovered.push(fixed);
    }
    return recovered;
  }

  /** Keeps the newest runs of each job (jobId null: of "Back up now"); the rest (and their samples) are deleted. */
  async prune(jobId: string | null, keep = KEEP_RUNS_PER_JOB): Promise<number> {
    const old = (await this.all()).filter((r) => r.jobId === jobId && r.status !== 'running').slice(keep);
    for (const r of old) {
      await fs.rm(this.file(r.runId, true), { force: true });
      await fs.rm(this.file(r.runId), { force: true });
    }
    return old.length;
  }
}
