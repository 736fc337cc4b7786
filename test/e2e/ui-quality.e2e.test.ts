import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { addDemoPool, addFolderRemote, type DemoPool, demoPoolOf, goTo, openSluicePage } from '../helpers/ui-page.js';
import { FOCUS_STATE, OVERFLOWS, UNNAMED_CONTROLS, type FocusState } from '../helpers/ui-audit.js';
import { watchEngine, type EngineWatch } from '../helpers/engine-watch.js';
import { bytesText } from '../helpers/run-figures.js';
import { followCard, mismatches, type CardReading, type OperationKind } from '../helpers/run-card-reading.js';

// Issue #8's promises, checked in Chromium against `sluice serve --demo` with a pool, a remote, a job and a
// backup present: every control has an accessible name, nothing overflows sideways at 1280x800 or 1920x1080 in
// light or dark, the keyboard reaches controls with a visible focus and drives dialogs, and a running backup's
// numbers never move the layout. One browser, one page: the viewport is resized, never relaunched.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
] as const;
const THEMES = ['light', 'dark'] as const;

let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let demo: DemoPool;
let remoteDir: string;
let exportDir: string;
let engine: EngineWatch;
const consoleErrors: string[] = [];

async function setTheme(theme: 'light' | 'dark') {
  // As the Settings page does it (html[data-theme] + the redraw event), without saving a preference.
  await page.evaluate(
    `document.documentElement.dataset.theme = '${theme}'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
  );
  await page.waitForTimeout(80);
}

/** The focused element's aria-label, else its text. */
const focusedName = () =>
  page.evaluate(`document.activeElement.getAttribute('aria-label') || document.activeElement.textContent.trim()`);

const go = (name: string) => goTo(page, name);

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  const exports = makeTempDir('sluice-export-');
  temps.push(data.cleanup, remote.cleanup, exports.cleanup);
  remoteDir = remote.dir;
  exportDir = exports.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual']);
  demo = demoPoolOf(serve);
  engine = await watchEngine(serve);
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, SIZES[0]!, consoleErrors);
});
afterAll(async () => {
  engine?.close();
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('the desktop UI keeps issue #8: names, layout, keyboard, steady numbers (Chromium, sluice serve --demo)', () => {
  it('a running backup never moves its numbers, bar or graph while they update', async () => {
    await addDemoPool(page, demo);
    await addFolderRemote(page, 'Local disk', remoteDir);
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).first().fill('Nightly mail');
    await form.getByRole('checkbox', { name: 'Back up mail' }).check();
    await form.getByRole('textbox', { name: /^Cron pattern/ }).fill('30 1 * * *');
    await form.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => page.getByRole('row', { name: /Nightly mail/ }).count()).toBe(1);

    // A full backup of "mail" (32 MiB) at 4 MiB/s: long enough to watch for three seconds.
    await go('Hosts');
    await page.getByRole('button', { name: 'Back up mail now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up mail now' });
    await dialog.getByLabel('Remote').selectOption({ label: 'Local disk' });
    await dialog.getByRole('radio', { name: /^Full \(/ }).check();
    await dialog.getByLabel('Speed limit (MiB/s)').fill('4');
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');
    const card = page.getByRole('article', { name: 'Backup of mail' });
    await expect
      .poll(async () => (await card.getByTestId('bytes-done').textContent()) !== '0 B', { timeout: 20_000 })
      .toBe(true);

    const boxes = () =>
      page.evaluate(
        `[...document.querySelectorAll('article[aria-label="Backup of mail"] :is(.stat .num, [role=progressbar], [data-testid=transfer-graph], [data-testid=bottleneck])')].map((el) => {
          const r = el.getBoundingClientRect();
          return { what: el.getAttribute('data-testid') || el.getAttribute('role') || el.closest('.stat').querySelector('dt').textContent, x: r.x, y: r.y, width: r.width, height: r.height, text: el.getAttribute('role') ? el.getAttribute('aria-valuetext') : el.textContent };
        })`,
      ) as Promise<Array<{ what: string; x: number; y: number; width: number; height: number; text: string }>>;
    const samples = [await boxes()];
    for (let i = 0; i < 10; i++) {
      await page.waitForTimeout(300);
      samples.push(await boxes());
    }
    // Still running, so the card stayed where it was; and the numbers did change, so the check could fail.
    expect(await card.getAttribute('data-state')).toBe('running');
    const first = samples[0]!;
    const changed = first.filter((b, i) => samples.some((s) => s[i]!.text !== b.text)).map((b) => b.what);
    expect(changed).toContain('bytes-done');
    const moved = samples.flatMap((s) =>
      s.flatMap((b, i) => {
        const a = first[i]!;
        return a.x !== b.x || a.width !== b.width || a.y !== b.y || a.height !== b.height
          ? [
              `${b.what}: ${a.x},${a.y} ${a.width}x${a.height} ("${a.text}") became ${b.x},${b.y} ${b.width}x${b.height} ("${b.text}")`,
            ]
          : [];
      }),
    );
    expect([...new Set(moved)]).toEqual([]);
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
  });

  it('every view at 1280x800 and 1920x1080, light and dark: every control named, nothing overflows sideways', async () => {
    for (const b of await page.getByRole('button', { name: /^Dismiss: / }).all()) await b.click();
    const unnamed: Record<string, string[]> = {};
    const overflow: Record<string, string[]> = {};
    const check = async (view: string, size: (typeof SIZES)[number]) => {
      for (const theme of THEMES) {
        await setTheme(theme);
        const key = `${view} ${size.width}x${size.height} ${theme}`;
        const u = (await page.evaluate(UNNAMED_CONTROLS)) as string[];
        if (u.length) unnamed[key] = u;
        const o = (await page.evaluate(OVERFLOWS)) as string[];
        if (o.length) overflow[key] = o;
        if (size.width === 1920)
          await page.screenshot({
            path: path.join(SHOTS, `${view.toLowerCase().replace(/\W+/g, '-')}-1920-${theme}.png`),
          });
      }
    };
    for (const size of SIZES) {
      await page.setViewportSize(size);
      for (const view of ['Dashboard', 'Hosts', 'Remotes', 'Jobs', 'Transfers', 'Backups', 'Settings']) {
        await go(view);
        await page.waitForTimeout(250);
        await check(view, size);
        if (view === 'Jobs') {
          await page.getByRole('button', { name: 'New job' }).click();
          await page.getByRole('form', { name: 'New job' }).waitFor();
          await check('Jobs form', size);
        }
        if (view === 'Backups') {
          for (const what of ['Restore', 'Export']) {
            await page
              .getByRole('button', { name: new RegExp(`^${what} mail `) })
              .first()
              .click();
            const d = page.getByRole('dialog', { name: `${what} mail` });
            await d.waitFor();
            await page.waitForTimeout(250);
            await check(`${what} dialog`, size);
            await page.keyboard.press('Escape');
            await d.waitFor({ state: 'hidden' });
          }
        }
      }
    }
    await page.setViewportSize(SIZES[0]);
    await setTheme('light');
    expect(unnamed).toEqual({});
    expect(overflow).toEqual({});
  });

  it('the keyboard: Tab walks the controls with a visible focus; dialogs open with Enter or Space, close with Escape, focus returns', async () => {
    for (const theme of THEMES) {
      await setTheme(theme);
      for (const view of ['Hosts', 'Jobs', 'Backups', 'Settings']) {
        await go(view);
        // The view fills in from the engine's answers: walk it once its controls are there (on a loaded
        // machine the first answer can come after the navigation).
        await page
          .locator(
            'main button:not([disabled]), main a[href], main input:not([disabled]), main select, main [tabindex="0"]',
          )
          .nth(3)
          .waitFor();
        // Start from the top of the document, as after a page load.
        await page.evaluate(`document.activeElement && document.activeElement.blur()`);
        const seen: FocusState[] = [];
        for (let i = 0; i < 14; i++) {
          await page.keyboard.press('Tab');
          const state = (await page.evaluate(FOCUS_STATE)) as FocusState;
          // Past the last control the focus leaves the document (to the browser): the walk is over.
          if (state.tag === 'body') break;
          seen.push(state);
        }
        const bad = seen
          .filter((s) => !s.visible || !s.interactive)
          .map(
            (s) =>
              `${view} ${theme}: <${s.tag}> "${s.name}"${s.interactive ? '' : ' (not a control)'}${s.visible ? '' : ' (no visible focus)'}`,
          );
        expect(bad).toEqual([]);
        // Focus moved through distinct controls and reached past the navigation into the view.
        expect(new Set(seen.map((s) => `${s.tag} ${s.name}`)).size).toBe(seen.length);
        expect(seen.filter((s) => s.inMain).length).toBeGreaterThanOrEqual(4);
      }
    }
    await setTheme('light');

    // Dialogs by keyboard: the opener gets Enter (Restore) or Space (Export); Escape closes; focus goes back to it.
    await go('Backups');
    for (const [what, key] of [
      ['Restore', 'Enter'],
      ['Export', 'Space'],
    ] as const) {
      const opener = page.getByRole('button', { name: new RegExp(`^${what} mail `) }).first();
      await opener.focus();
      await page.keyboard.press(key);
      const d = page.getByRole('dialog', { name: `${what} mail` });
      await d.waitFor();
      // Focus is inside the dialog (the browser moved it there), not left behind on the page.
      expect(await page.evaluate(`document.querySelector('dialog[open]').contains(document.activeElement)`)).toBe(true);
      await page.keyboard.press('Escape');
      await d.waitFor({ state: 'hidden' });
      expect(await focusedName()).toBe(await opener.getAttribute('aria-label'));
    }

    // A confirm dialog too: Delete on a point asks first, with the safe choice focused.
    const del = page.getByRole('button', { name: /^Delete mail / }).first();
    await del.focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: /^Delete the backup of mail/ });
    await confirm.waitFor();
    expect(await focusedName()).toBe('Keep it');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    expect(await focusedName()).toBe(await del.getAttribute('aria-label'));
    expect(await page.getByRole('table', { name: 'Backups of mail on Local disk' }).getByRole('row').count()).toBe(2);
    expect(consoleErrors).toEqual([]);
  });
  it("every number on a run card is the engine's own, at every sample: backup, restore, export, verify, delete", async () => {
    const cards = async () =>
      (await page.evaluate(
        `[...document.querySelectorAll('article[data-run-id]')].map((e) => [e.getAttribute('aria-label'), e.dataset.runId])`,
      )) as Array<[string, string]>;
    /** Starts a run from the UI, reads its card to the end and holds every reading against the engine's samples. */
    const follow = async (kind: OperationKind, start: () => Promise<void>, label: RegExp) => {
      const before = new Set((await cards()).map(([, id]) => id));
      await start();
      let runId: string | undefined;
      await expect
        .poll(async () => (runId = (await cards()).find(([l, id]) => label.test(l) && !before.has(id))?.[1]), {
          timeout: 30_000,
        })
        .toBeDefined();
      const readings = await followCard(page, runId!);
      const samples = engine.samples(runId!);
      expect(readings.at(-1)!.state).toBe('done');
      expect(samples.length).toBeGreaterThan(0);
      expect(mismatches(kind, readings, samples)).toEqual([]);
      return { runId: runId!, readings, last: readings.at(-1)! };
    };
    const backUp = async () => {
      await go('Hosts');
      await page.getByRole('button', { name: 'Back up fileserver now' }).click();
      const dialog = page.getByRole('dialog', { name: 'Back up fileserver now' });
      await dialog.getByLabel('Remote').selectOption({ label: 'Local disk' });
      await dialog.getByRole('radio', { name: /^Delta \(/ }).check();
      await dialog.getByLabel('Speed limit (MiB/s)').fill('16');
      await dialog.getByRole('button', { name: 'Start backup' }).click();
    };
    const pointOf = (runId: string) => engine.backupFinished(runId)?.vms[0]?.pointId;

    // A full backup: the host sends no length, so the total is an estimate from the disks' allocation, marked
    // as one, with a bar and a percentage that move with it and never say 100 % before the end.
    const full = await follow(
      'backup',
      async () => {
        await go('Hosts');
        await page.getByRole('button', { name: 'Back up erp-db now' }).click();
        const dialog = page.getByRole('dialog', { name: 'Back up erp-db now' });
        await dialog.getByLabel('Remote').selectOption({ label: 'Local disk' });
        await dialog.getByRole('radio', { name: /^Full \(/ }).check();
        await dialog.getByLabel('Speed limit (MiB/s)').fill('16');
        await dialog.getByRole('button', { name: 'Start backup' }).click();
      },
      /^Backup of erp-db$/,
    );
    // While the stream runs (the commit that follows has every byte: 100 % is true there).
    const moving = full.readings.filter((r) => r.phase === 'transfer' && r.stats['bytes-done'] !== '0 B');
    expect(moving.length).toBeGreaterThan(2);
    expect(moving.filter((r) => r.stats['bytes-total']!.startsWith('≈ ')).map((r) => r.notes['bytes-total'])).toContain(
      'from the disks’ allocation, narrowed as the stream goes',
    );
    expect(moving.filter((r) => /^(?!0\.0)\d+\.\d %$/.test(r.stats['progress-text']!)).length).toBeGreaterThan(0);
    expect(
      moving.filter((r) => r.stats['progress-text'] === '100.0 %').map((r) => `${r.phase} ${JSON.stringify(r.stats)}`),
    ).toEqual([]);
    expect(full.last.stats['bytes-total']).toBe(full.last.stats['bytes-done']);

    // Backups: fileserver's three disks, one of them [NOBAK], twice (so that a delete has a merge to show).
    const first = await follow('backup', backUp, /^Backup of fileserver$/);
    const skippedRows = (r: CardReading) => r.diskRows.filter((d) => d.cells[1]!.includes('[NOBAK]'));
    const withRows = first.readings.filter((r) => r.diskRows.length > 0);
    expect(withRows.length).toBeGreaterThan(0);
    // The skipped disk says skipped from the first reading on: never waiting, never a bar that looks at work.
    expect([...new Set(withRows.flatMap((r) => skippedRows(r).map((d) => `${d.status} ${d.bar}`)))]).toEqual([
      'skipped skipped',
    ]);
    expect(first.last.vmRows[0]![1]).toBe('2 of 3 disks, 1 skipped');
    // The total is known from the first disk row on: a disk not yet begun counts by its estimate ("≈").
    const inTransfer = withRows.filter((r) => r.phase === 'transfer');
    expect(inTransfer.length).toBeGreaterThan(0);
    expect(
      inTransfer.map((r) => r.stats['bytes-total']).filter((t) => !/^(≈ )?[\d.]+ (B|KiB|MiB|GiB)$/.test(t!)),
    ).toEqual([]);
    expect(inTransfer.some((r) => r.stats['bytes-total']!.startsWith('≈ '))).toBe(true);
    expect(first.last.stats['bytes-done']).toBe(
      bytesText(engine.backupFinished(first.runId)!.vms.reduce((n, v) => n + v.bytes, 0)),
    );
    // A delta's total is its stream's length, from the VHD's block table: exact, so the run ends on it.
    expect(first.last.stats['bytes-total']).toBe(first.last.stats['bytes-done']);
    const second = await follow('backup', backUp, /^Backup of fileserver$/);
    const [older, newer] = [pointOf(first.runId)!, pointOf(second.runId)!];

    await go('Backups');
    const restored = await follow(
      'restore',
      async () => {
        await page.getByRole('button', { name: `Restore fileserver ${newer}` }).click();
        const dialog = page.getByRole('dialog', { name: 'Restore fileserver' });
        await expect.poll(() => dialog.getByRole('combobox', { name: /^SR for disk 0/ }).count()).toBe(1);
        await dialog.getByRole('button', { name: 'Restore' }).click();
      },
      /^Restore of fileserver/,
    );
    const restoreResult = engine.operationFinished(restored.runId)!.result;
    expect(restoreResult?.kind).toBe('restore');
    // The card's bytes are the restore's, every disk of it (as its log says).
    expect(restored.last.stats['bytes-done']).toBe(
      bytesText(restoreResult?.kind === 'restore' ? restoreResult.bytes : -1),
    );

    const exported = await follow(
      'export',
      async () => {
        await page.getByRole('button', { name: `Export fileserver ${newer}` }).click();
        const dialog = page.getByRole('dialog', { name: 'Export fileserver' });
        await dialog.getByRole('radio', { name: /^VHD per disk/ }).check();
        await dialog.getByRole('textbox', { name: /^Output path/ }).fill(exportDir);
        await dialog.getByRole('button', { name: 'Export' }).click();
      },
      /^Export of fileserver/,
    );
    const exportResult = engine.operationFinished(exported.runId)!.result;
    const files = exportResult?.kind === 'export' ? exportResult.files : [];
    expect(files).toHaveLength(2);
    // Written is the files' bytes (never a disk's virtual size, never counted twice); progress is of the reading.
    expect(exported.last.stats['bytes-written']).toBe(bytesText(files.reduce((n, f) => n + f.bytes, 0)));
    expect(exported.last.stats['bytes-read']).toBe(exported.last.stats['bytes-total']);
    expect(exported.last.labels).toEqual([
      'Read',
      'Written',
      'Total',
      'Progress',
      'Read rate',
      'Write rate',
      'Time left',
      'Elapsed',
    ]);

    const verified = await follow(
      'verify',
      () => page.getByRole('button', { name: `Verify fileserver ${newer}` }).click(),
      /^Verify of fileserver/,
    );
    const verifyResult = engine.operationFinished(verified.runId)!.result;
    expect(verified.last.stats['bytes-checked']).toBe(
      bytesText(verifyResult?.kind === 'verify' ? verifyResult.bytes : -1),
    );
    // A verify reads and checks: nothing written, no spool, no bottleneck, no graph of a transfer.
    expect(verified.last.labels).toEqual(['Checked', 'Total', 'Progress', 'Read rate', 'Time left', 'Elapsed']);
    expect([verified.last.graph, verified.last.bottleneck]).toEqual([false, false]);

    const deleted = await follow(
      'delete',
      async () => {
        await page.getByRole('button', { name: `Delete fileserver ${older}` }).click();
        await page
          .getByRole('dialog', { name: /^Delete the backup of fileserver/ })
          .getByRole('button', { name: 'Delete point' })
          .click();
      },
      /^Delete of fileserver/,
    );
    expect(deleted.last.labels).toEqual(['Merged', 'Total', 'Progress', 'Time left', 'Elapsed']);
    expect([deleted.last.graph, deleted.last.bottleneck]).toEqual([false, false]);

    // The newer point absorbed the merge: it is listed at what its VHDs hold now, not at what its backup wrote.
    const held = (readdirSync(remoteDir, { recursive: true }) as string[])
      .filter((f) => path.basename(f) === `${newer}.vhd`)
      .reduce((n, f) => n + statSync(path.join(remoteDir, f)).size, 0);
    expect(held).toBeGreaterThan(0);
    const pointRow = page
      .getByRole('table', { name: 'Backups of fileserver on Local disk' })
      .getByRole('row')
      .filter({ hasText: newer });
    await expect.poll(() => pointRow.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => pointRow.getByRole('cell').nth(2).textContent(), { timeout: 15_000 }).toBe(bytesText(held));
    expect(consoleErrors).toEqual([]);
  });
});
