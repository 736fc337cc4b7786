import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { addDemoPool, addFolderRemote, demoPoolOf, goTo, openSluicePage } from '../helpers/ui-page.js';

// What the job form, the restore dialog and the views around them show is true and readable (issue 15): errors
// all at once and at the right field, times in the job's zone, the pool by its name, a restored VM told apart
// from its original, nothing cut off at the app's smallest window (960 wide, as the Electron window allows).
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let remoteDir: string;
let exportDir: string;
const consoleErrors: string[] = [];

const go = (name: string) => goTo(page, name);
const SMALLEST = { width: 960, height: 700 };

/** A page as the admin opens it (at `size`), whatever an earlier step left open. */
async function fresh(size = { width: 1280, height: 900 }): Promise<void> {
  await page.setViewportSize(size);
  await page.goto(serve.url);
  await page.getByText('Engine connected').waitFor();
}

/** Whether an element's box lies (at least partly, top edge included) inside the viewport. */
async function inViewport(el: Locator): Promise<boolean> {
  const box = await el.boundingBox();
  const size = page.viewportSize()!;
  return box !== null && box.y > -2 && box.y < size.height && box.x > -2 && box.x < size.width;
}

/**
 * Runs `body` in the page with `el` bound to the element (the page's DOM types are not this file's: the test
 * is compiled for Node, so the body is page text).
 */
async function inPage<T>(target: Locator, body: string): Promise<T> {
  await target.evaluate((e) => e.setAttribute('data-probe', ''));
  try {
    return (await page.evaluate(`(() => { const el = document.querySelector('[data-probe]'); ${body} })()`)) as T;
  } finally {
    await target.evaluate((e) => e.removeAttribute('data-probe'));
  }
}

/** Whether an element's content is wider than its box (cut off, or hidden behind an ellipsis). */
const overflows = (el: Locator) => el.evaluate((e) => e.scrollWidth > e.clientWidth + 1);

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  const out = makeTempDir('sluice-export-');
  temps.push(data.cleanup, remote.cleanup, out.cleanup);
  remoteDir = remote.dir;
  exportDir = out.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual']);
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, { width: 1280, height: 900 }, consoleErrors);
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('the job form (Chromium, sluice serve --demo)', () => {
  it('adds the demo pool and a folder remote', async () => {
    await addDemoPool(page, demoPoolOf(serve));
    await addFolderRemote(page, 'Local disk', remoteDir);
  });

  it('names the pool by its name, shows its whole search placeholder, and keeps its buttons apart', async () => {
    await fresh(SMALLEST);
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    const pool = form.getByRole('combobox', { name: 'Pool' });
    expect(await pool.locator('option:checked').textContent()).toBe('Small shop');
    const search = form.getByRole('searchbox', { name: 'Search VMs' });
    // The placeholder's width in the input's own font, against the room inside its padding.
    const fits = await inPage<boolean>(
      search,
      `const cs = getComputedStyle(el);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = cs.font;
      const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      return ctx.measureText(el.placeholder).width <= room;`,
    );
    expect(fits).toBe(true);
    const cancel = (await form.getByRole('button', { name: 'Cancel' }).boundingBox())!;
    const create = (await form.getByRole('button', { name: 'Create job' }).boundingBox())!;
    expect(create.x - (cancel.x + cancel.width)).toBeGreaterThanOrEqual(6);
  });

  it('previews 02:00 Europe/Paris as 02:00 and names the zone, whatever the zone of the machine showing it', async () => {
    await fresh();
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    await form.getByRole('textbox', { name: /^Cron pattern/ }).fill('0 2 * * *');
    await form.getByRole('textbox', { name: 'Time zone' }).fill('Europe/Paris');
    await expect
      .poll(() => form.getByTestId('cron-preview-0').textContent())
      .toMatch(/^Every day at 02:00\. Next: .*02:00 Europe\/Paris · .*02:00 Europe\/Paris · .*02:00 Europe\/Paris$/);
    expect(await form.getByTestId('cron-preview-0').textContent()).not.toMatch(/AM|PM/);
  });

  it('refuses a bad job with every error at once, each at its own field in words, the summary in view', async () => {
    await fresh();
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    const cron = form.getByRole('textbox', { name: /^Cron pattern/ });
    const zone = form.getByRole('textbox', { name: 'Time zone' });
    await cron.fill('0 2 * *');
    await zone.fill('Mars/Olympus');
    await form.getByRole('textbox', { name: 'Keep the last N points' }).fill('seven');
    await form.getByRole('button', { name: 'Create job' }).click();

    const issue = (id: string) => form.getByTestId(`issue-${id}`);
    await expect.poll(() => issue('name').textContent()).toBe('Give the job a name');
    expect(await issue('vms').textContent()).toBe('Pick at least one VM');
    expect(await issue('schedules-0-timezone').textContent()).toMatch(/"Mars\/Olympus" is not a time zone/);
    expect(await issue('schedules-0-keep').textContent()).toBe('Enter how many points to keep, e.g. 7');
    const cronIssue = await issue('schedules-0-cron').textContent();
    // The pattern's own problem, in words: not the time zone's, not croner's "five, six, or seven … parts".
    expect(cronIssue).toMatch(
      /"0 2 \* \*" is not a cron pattern Sluice can read: it has 4 fields, and a cron pattern has 5/,
    );
    expect(cronIssue).not.toMatch(/time zone|five, six, or seven/);
    expect(await form.getByTestId('cron-preview-0').textContent()).not.toMatch(/time zone|five, six/);
    const summary = form.getByTestId('job-form-summary');
    expect(await summary.textContent()).toMatch(/5 fields need a change/);
    expect(await inViewport(summary)).toBe(true);

    // Each red error goes as soon as its field is fixed, before any save.
    await zone.fill('Europe/Paris');
    await expect.poll(() => issue('schedules-0-timezone').count()).toBe(0);
    expect(await zone.getAttribute('aria-invalid')).toBeNull();
    expect(await issue('schedules-0-cron').count()).toBe(1);
    await cron.fill('0 2 * * *');
    await expect.poll(() => issue('schedules-0-cron').count()).toBe(0);
    await form.getByRole('textbox', { name: /^Name/ }).first().fill('fixed');
    await form.getByRole('textbox', { name: 'Keep the last N points' }).fill('7');
    await form.getByRole('checkbox', { name: 'Back up mail' }).check();
    await expect.poll(() => summary.count()).toBe(0);
    expect(await form.getByRole('alert').count()).toBe(0);
    // Once fixed, it saves, and the page goes on (a refused form closing after a save once blanked the page).
    await form.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => page.getByRole('row', { name: /fixed/ }).count()).toBe(1);
    expect(await page.getByRole('form').count()).toBe(0);
  });

  it('after a first save, Edit opens one form and Cancel closes it, however often', async () => {
    await fresh();
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).first().fill('nightly');
    await form.getByRole('checkbox', { name: 'Back up mail' }).check();
    await form.getByRole('textbox', { name: /^Cron pattern/ }).fill('0 2 * * *');
    await form.getByRole('textbox', { name: 'Time zone' }).fill('Europe/Paris');
    await form.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => page.getByRole('row', { name: /nightly/ }).count()).toBe(1);

    const forms = page.getByRole('form', { name: 'Edit job nightly' });
    for (let i = 0; i < 3; i++) {
      await page.getByRole('button', { name: 'Edit nightly' }).click();
      await expect.poll(() => forms.count()).toBe(1);
    }
    await forms.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => forms.count()).toBe(0);
    await page.getByRole('button', { name: 'Edit nightly' }).click();
    await forms.getByRole('textbox', { name: 'Keep the last N points' }).fill('5');
    await forms.getByRole('button', { name: 'Save job' }).click();
    await expect.poll(() => forms.count()).toBe(0);
    await page.getByRole('button', { name: 'Edit nightly' }).click();
    await expect.poll(() => forms.count()).toBe(1);
    await forms.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => forms.count()).toBe(0);
  });

  it("lists the job's next run in its own zone, named, in Jobs and on the Dashboard", async () => {
    await fresh();
    await go('Jobs');
    const row = page.getByRole('row', { name: /nightly/ });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toMatch(/02:00 Europe\/Paris/);
    expect(await row.textContent()).not.toMatch(/AM|PM/);
    await go('Dashboard');
    const next = page
      .getByRole('region', { name: 'Next scheduled runs' })
      .getByRole('listitem')
      .filter({ hasText: /— nightly / });
    await expect.poll(() => next.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await next.first().textContent()).toMatch(/02:00 Europe\/Paris — nightly/);
  });
});

describe('restores told apart from their originals (Chromium, sluice serve --demo)', () => {
  it('restores under the original name plus the point date by default, tagged; the pool is named', async () => {
    await fresh();
    await go('Jobs');
    await page.getByRole('button', { name: 'Run nightly now' }).click();
    const run = page.getByRole('article', { name: 'Job nightly' });
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    await go('Backups');
    await page
      .getByRole('button', { name: /^Restore mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Restore mail' });
    const pool = await dialog.getByRole('combobox', { name: 'Pool' }).locator('option:checked').textContent();
    const placeholder = (await dialog.getByLabel('Name of the new VM').getAttribute('placeholder'))!;
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    const card = page.getByRole('article', { name: /^Restore of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(pool).toBe('Small shop');
    expect(placeholder).toMatch(/^mail \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/);
    expect(await card.getByTestId('operation-outcome').textContent()).toContain(`restored as "${placeholder}"`);

    await go('Hosts');
    const tree = page.getByRole('region', { name: 'Pool Small shop' });
    const copy = tree.getByRole('row', { name: placeholder });
    await expect.poll(() => copy.count(), { timeout: 15_000 }).toBe(1);
    expect(await copy.textContent()).toMatch(/restored from backup/);
    expect(await tree.getByRole('row', { name: 'mail', exact: true }).count()).toBe(1);
  });

  it('where two VMs share a name, the Hosts view, the VM picker and the Dashboard show their uuids', async () => {
    await fresh();
    await go('Backups');
    await page
      .getByRole('button', { name: /^Restore mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Restore mail' });
    await dialog.getByLabel('Name of the new VM').fill('mail');
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect
      .poll(
        () =>
          page
            .getByRole('article', { name: /^Restore of mail/ })
            .last()
            .getAttribute('data-state'),
        {
          timeout: 60_000,
        },
      )
      .toBe('done');

    await go('Hosts');
    const tree = page.getByRole('region', { name: 'Pool Small shop' });
    const mails = tree.getByRole('row', { name: 'mail', exact: true });
    await expect.poll(() => mails.count(), { timeout: 15_000 }).toBe(2);
    const shown = await mails.getByTestId('vm-uuid').allTextContents();
    const real = await mails.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-vm-uuid')));
    expect(shown.sort()).toEqual(real.sort());
    expect(new Set(shown).size).toBe(2);
    // A name only one VM has is shown alone.
    expect(await tree.getByRole('row', { name: 'erp-db' }).getByTestId('vm-uuid').count()).toBe(0);

    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    for (const uuid of shown)
      expect(await form.getByRole('checkbox', { name: `Back up mail (${uuid})` }).count()).toBe(1);
    expect(await form.getByRole('checkbox', { name: 'Back up erp-db' }).count()).toBe(1);
    await form.getByRole('button', { name: 'Cancel' }).click();

    await go('Dashboard');
    const lists = page.getByRole('region', { name: /^(Protected|Unprotected) VMs$/ });
    await expect.poll(() => lists.getByTestId('vm-uuid').count(), { timeout: 15_000 }).toBe(2);
    expect((await lists.getByTestId('vm-uuid').allTextContents()).sort()).toEqual(shown.sort());
  });
});

describe('nothing cut off at the smallest window (Chromium, sluice serve --demo)', () => {
  it('the remove-remote dialog shows its whole text', async () => {
    await fresh(SMALLEST);
    await go('Remotes');
    await page.getByRole('button', { name: 'Remove remote Local disk' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the remote Local disk?' });
    const text = dialog.getByText(/The backups in it are not deleted\./);
    expect(await overflows(text)).toBe(false);
    expect(await overflows(dialog)).toBe(false);
    await dialog.getByRole('button', { name: 'Keep it' }).click();
  });

  it('the "excluded" badge of a [NOBAK] disk is shown whole', async () => {
    await fresh(SMALLEST);
    await go('Hosts');
    const disk = page.getByRole('row', { name: 'fileserver' }).locator('.disks li').filter({ hasText: '[NOBAK]' });
    await expect.poll(() => disk.count(), { timeout: 15_000 }).toBe(1);
    expect(await overflows(disk)).toBe(false);
    const badge = (await disk.getByText('excluded', { exact: true }).boundingBox())!;
    const cell = (await disk.boundingBox())!;
    expect(badge.x + badge.width).toBeLessThanOrEqual(cell.x + cell.width + 1);
  });

  it('point ids never break mid-string, and an export started far down the list shows its progress in view', async () => {
    await fresh(SMALLEST);
    await go('Backups');
    const ids = page.getByRole('table', { name: /^Backups of mail on / }).locator('tbody td.mono');
    await expect.poll(() => ids.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    // The lines the id's text takes: one, whatever room its cell has.
    const lines = await inPage<number>(
      ids.first(),
      `const range = document.createRange();
      range.selectNodeContents(el);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;`,
    );
    expect(lines).toBe(1);

    await page
      .getByRole('button', { name: /^Export mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Export mail' });
    await dialog.getByRole('textbox', { name: /^Output path/ }).fill(path.join(exportDir, 'mail.xva'));
    await dialog.getByRole('button', { name: 'Export' }).click();
    const card = page.getByRole('article', { name: /^Export of mail/ });
    await expect.poll(() => card.count()).toBe(1);
    await expect.poll(() => inViewport(card)).toBe(true);
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(consoleErrors).toEqual([]);
  });
});
