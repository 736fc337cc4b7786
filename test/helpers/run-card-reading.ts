import type { Page } from 'playwright-core';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { bytesText, diskTexts, figuresAfterEach, percentText, totalText, type RunFigures } from './run-figures.js';

/** What a run card shows at one instant, read in one go from the page. */
export interface CardReading {
  state: string;
  /** The run's phase, as its badge says. */
  phase: string;
  stats: Record<string, string>;
  /** The note under each number (non-breaking space when none). */
  notes: Record<string, string>;
  labels: string[];
  graph: boolean;
  bottleneck: boolean;
  vmRows: string[][];
  diskRows: Array<{ status: string; cells: string[]; bar: string }>;
}

const readCard = (runId: string) => `(() => {
  const card = document.querySelector('article[data-run-id="${runId}"]');
  if (!card) return null;
  const stats = {};
  const notes = {};
  for (const el of card.querySelectorAll('.stat .num[data-testid]')) {
    stats[el.dataset.testid] = el.textContent;
    notes[el.dataset.testid] = el.parentElement.querySelector('.stat-note').textContent;
  }
  return {
    state: card.dataset.state,
    phase: card.querySelector('[data-testid=run-phase] .badge').textContent,
    stats,
    notes,
    labels: [...card.querySelectorAll('.stat dt')].map((d) => d.textContent),
    graph: card.querySelector('[data-testid=transfer-graph]') !== null,
    bottleneck: card.querySelector('[data-testid=bottleneck]') !== null,
    vmRows: [...card.querySelectorAll('tr[data-testid=vm-row]')].map((tr) => [...tr.cells].map((c) => c.textContent)),
    diskRows: [...card.querySelectorAll('tr[data-testid=disk-row]')].map((tr) => ({
      status: tr.dataset.status,
      cells: [...tr.cells].map((c) => c.textContent),
      bar: tr.querySelector('[role=progressbar]').getAttribute('aria-valuetext'),
    })),
  };
})()`;

/** Reads the card of `runId` every 100 ms until the run has ended, then once more. */
export async function followCard(page: Page, runId: string, timeoutMs = 90_000): Promise<CardReading[]> {
  const readings: CardReading[] = [];
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = (await page.evaluate(readCard(runId))) as CardReading | null;
    if (r) readings.push(r);
    if (r && r.state !== 'running' && r.state !== 'cancelling') break;
    if (Date.now() > until) throw new Error(`the card of run ${runId} did not end in ${timeoutMs} ms`);
    await page.waitForTimeout(100);
  }
  await page.waitForTimeout(300);
  readings.push((await page.evaluate(readCard(runId))) as CardReading);
  return readings;
}

export type OperationKind = 'backup' | 'restore' | 'export' | 'verify' | 'delete';

/** The card's numbers of each kind of run, by test id, and how each is read from the engine's figures. */
const FIELDS: Record<OperationKind, Array<[string, (f: RunFigures) => string]>> = {
  backup: [['bytes-done', (f) => bytesText(f.written)]],
  restore: [['bytes-done', (f) => bytesText(f.written)]],
  export: [
    ['bytes-read', (f) => bytesText(f.read)],
    ['bytes-written', (f) => bytesText(f.written)],
  ],
  verify: [['bytes-checked', (f) => bytesText(f.read)]],
  delete: [['bytes-merged', (f) => bytesText(f.written)]],
};

/**
 * Every reading's numbers (the card's, its VM row's, each disk row's) against the engine's figures: each
 * shown combination must be one the engine's samples gave at some point of the run (the finished run's
 * progress is 100 %). Returns what did not match, in words.
 */
export function mismatches(kind: OperationKind, readings: CardReading[], samples: TransferProgress[]): string[] {
  const fields = FIELDS[kind];
  const figures = figuresAfterEach(samples);
  const tuple = (f: RunFigures, progress: string) =>
    [...fields.map(([, of]) => of(f)), totalText(f), progress].join(' | ');
  const engine = new Set(figures.map((f) => tuple(f, percentText(f))));
  const last = figures.at(-1);
  if (last) engine.add(tuple(last, '100.0 %'));
  const row = new Set(figures.map((f) => `${bytesText(f.count)} | ${totalText(f)}`));
  const disks = diskTexts(samples);
  const bad: string[] = [];
  for (const r of readings) {
    const shown = [...fields.map(([id]) => r.stats[id]), r.stats['bytes-total'], r.stats['progress-text']].join(' | ');
    if (!engine.has(shown)) bad.push(`card (${r.state}): ${shown}`);
    for (const cells of r.vmRows) {
      const shownRow = `${cells[4]} | ${cells[5]}`;
      if (!row.has(shownRow)) bad.push(`VM row (${r.state}): ${shownRow}`);
    }
    for (const d of r.diskRows) {
      const shownDisk = `${d.cells[4]}|${d.cells[5]}`;
      if (!disks.get(d.cells[1]!)?.has(shownDisk)) bad.push(`disk row ${d.cells[1]} (${d.status}): ${shownDisk}`);
    }
  }
  return [...new Set(bad)];
}
