import path from 'node:path';
import { z } from 'zod';
import { readJsonIfExists } from '../core/optional-file.js';
import { replaceJsonFile, WriteQueue } from './json-file.js';

const entrySchema = z.object({ cron: z.string(), timezone: z.string(), lastFireAt: z.string() });
const fileSchema = z.object({ version: z.literal(1), schedules: z.record(z.string(), entrySchema) });
export type ScheduleState = z.infer<typeof entrySchema>;

export const SCHEDULER_STATE_FILE = 'scheduler-state.json';

/**
 * For each schedule, the last fire the scheduler dealt with (run, skipped or reported) and the pattern it
 * was computed with. Persisted in the data dir, so what fell due while Sluice was closed is known at start.
 */
export class SchedulerState {
  private entries = new Map<string, ScheduleState>();
  private readonly writes = new WriteQueue();
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, SCHEDULER_STATE_FILE);
  }

  async load(): Promise<void> {
    const raw = await readJsonIfExists(this.file).catch(() => undefined);
    const parsed = fileSchema.safeParse(raw);
    // A damaged state file costs at most a missed-run report: schedules restart from their job's last save.
    this.entries = new Map(parsed.success ? Object.entries(parsed.data.schedules) : []);
  }

  get(key: string): ScheduleState | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: ScheduleState): void {
    this.entries.set(key, value);
  }

  /** Forgets schedules that no longer exist. */
  retain(keys: ReadonlySet<string>): void {
    for (const k of [...this.entries.keys()]) if (!keys.has(k)) this.entries.delete(k);
  }

  save(): Promise<void> {
    const snapshot = { version: 1 as const, schedules: Object.fromEntries(this.entries) };
    return this.writes.run(() => replaceJsonFile(this.file, snapshot));
  }
}
