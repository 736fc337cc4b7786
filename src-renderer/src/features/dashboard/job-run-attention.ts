import type { RunSummary } from '../../../../src-shared/contract/runs.js';
import { formatAge } from '../../../../src-shared/units.js';

export interface AttentionItem {
  key: string;
  tone: 'bad' | 'warn';
  text: string;
  hint?: string | undefined;
}

const words: Partial<Record<RunSummary['status'], [string, AttentionItem['tone']]>> = {
  failed: ['failed', 'bad'],
  interrupted: ['was interrupted (Sluice stopped while it ran)', 'bad'],
  partial: ['partly failed', 'warn'],
  missed: ['was missed (Sluice was not running)', 'warn'],
};

/**
 * Runs (of jobs, and of "Back up now") that went wrong, from the persisted history (they may have run while this window was closed), in
 * words with the first error and its hint. Runs this window already lists (`seen`) are left out.
 */
export function jobRunAttention(
  lastRuns: RunSummary[],
  seen: (runId: string) => boolean,
  now = Date.now(),
): AttentionItem[] {
  const out: AttentionItem[] = [];
  for (const r of lastRuns) {
    const w = words[r.status];
    if (!w || seen(r.runId)) continue;
    const e = r.errors[0] ?? r.vms.find((v) => v.error)?.error ?? null;
    out.push({
      key: `jobrun-${r.runId}`,
      tone: w[1],
      text: `${r.jobId === null ? r.jobName : `Job ${r.jobName}`} ${w[0]} ${formatAge(Date.parse(r.finishedAt ?? r.startedAt), now)}${e ? `: ${e.message}` : '.'}`,
      hint: e?.hint,
    });
  }
  return out;
}
