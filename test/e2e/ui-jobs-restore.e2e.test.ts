import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// Jobs, run history, restore, verify and export through the desktop UI, in Chromium against `sluice serve --demo`.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let demo: { url: string; user: string; password: string };
let remoteDir: string;
let exportDir: string;
const consoleErrors: string[] = [];

async function shot(name: string, theme: 'light' | 'dark') {
  await page.evaluate(`document.documentElement.dataset.theme = '${theme}'; window.dispatchEvent(new CustomEvent('sluice-theme'));`);
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`), fullPage: false });
}

async function go(name: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(name);
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html'))) throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  const out = makeTempDir('sluice-export-');
  temps.push(data.cleanup, remote.cleanup, out.cleanup);
  remoteDir = remote.dir;
  exportDir = out.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo']);
  const m = /Demo pool "Small shop" at (\S+) \(user (\S+), password (\S+), certificate (\S+)\)/.exec(serve.output())!;
  demo = { url: m[1]!, user: m[2]!, password: m[3]! };
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  await page.goto(serve.url);
  await page.getByText('Engine connected').waitFor();
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('jobs, history, restore, verify, export in the desktop UI (Chromium, sluice serve --demo)', () => {
  it('adds the demo pool and a folder remote', async () => {
    await go('Hosts');
    await page.getByLabel('Pool address').fill(demo.url);
    await page.getByLabel('Username').fill(demo.user);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Pool Small shop' }).getByRole('row', { name: 'mail' }).count(), { timeout: 15_000 }).toBe(1);
    await go('Remotes');
    await page.getByLabel('Name').fill('Local disk');
    await page.getByLabel('Folder').fill(remoteDir);
    await page.getByRole('button', { name: 'Add remote' }).click();
    await expect.poll(() => page.getByRole('row', { name: 'Local disk' }).count()).toBe(1);
  });

  it('creates a job: a bad cron is previewed as bad and refused at its field, a good one previewed with its next runs', async () => {
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).first().fill('Nightly mail');
    await form.getByRole('searchbox', { name: 'Search VMs' }).fill('mai');
    await form.getByRole('checkbox', { name: 'Back up mail' }).check();
    const cron = form.getByRole('textbox', { name: /^Cron pattern/ });
    await cron.fill('61 2 * * *');
    await expect.poll(() => form.getByTestId('cron-preview-0').textContent()).toMatch(/Not a cron pattern/);
    await form.getByLabel('Speed limit (MiB/s, whole job)').fill('8');
    await form.getByRole('button', { name: 'Create job' }).click();
    // The engine's refusal, at the cron field (not a generic banner only).
    await expect.poll(() => form.getByTestId('issue-schedules-0-cron').textContent()).toMatch(/not a cron pattern Sluice can read/);
    expect(await cron.getAttribute('aria-invalid')).toBe('true');
    await shot('jobs-form-refused', 'light');
    await shot('jobs-form-refused', 'dark');

    await cron.fill('30 1 * * *');
    await expect.poll(() => form.getByTestId('cron-preview-0').textContent()).toMatch(/^Every day at 01:30\. Next: .+ · .+ · .+/);
    await form.getByRole('button', { name: 'Create job' }).click();
    const row = page.getByRole('row', { name: /Nightly mail/ });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toMatch(/delta/);
    expect(await row.textContent()).toMatch(/never/);
    expect(await row.textContent()).not.toMatch(/not scheduled/);
    await shot('jobs-list', 'light');
    await shot('jobs-list', 'dark');
  });

  it('runs the job now: the run finishes in Transfers, then shows in its history with its graph and summary', async () => {
    await page.getByRole('button', { name: 'Run Nightly mail now' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');
    const card = page.getByRole('article', { name: 'Job Nightly mail' });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('run-result').textContent()).toMatch(/The backup finished\.\s*mail: backed up/);

    await go('Jobs');
    await expect.poll(() => page.getByRole('row', { name: /Nightly mail/ }).textContent()).toMatch(/success/);
    await page.getByRole('button', { name: 'History of Nightly mail' }).click();
    const history = page.getByRole('region', { name: 'History of Nightly mail' });
    await expect.poll(() => history.getByRole('row').count()).toBe(2);
    expect(await history.getByRole('row').nth(1).textContent()).toMatch(/manual\s*success/);
    await history.getByRole('button', { name: 'Details' }).click();
    const detail = page.getByTestId('run-detail');
    await expect.poll(() => detail.getByRole('table', { name: 'Results per VM' }).textContent()).toMatch(/mail\s*success/);
    // The stored samples drawn by the live graph's component: several points, not an empty frame.
    await expect.poll(async () => Number(await detail.getByTestId('transfer-graph').getAttribute('data-points'))).toBeGreaterThan(2);
    await detail.getByRole('button', { name: 'Copy summary' }).click();
    await expect.poll(() => detail.getByTestId('run-summary-text').textContent()).toMatch(/Nightly mail/);
    await detail.scrollIntoViewIfNeeded();
    await shot('jobs-history', 'light');
    await shot('jobs-history', 'dark');
  });

  it('restores the point to the demo pool: SR per disk offered, a new VM appears in the Hosts tree', async () => {
    await go('Backups');
    await page.getByRole('button', { name: /^Restore mail / }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Restore mail' });
    await expect.poll(() => dialog.getByRole('combobox', { name: /^SR for disk 0 “mail”/ }).count()).toBe(1);
    expect(await dialog.getByRole('combobox', { name: /^SR for disk 0/ }).textContent()).toMatch(/NFS storage.*default/);
    await dialog.getByLabel('Name of the new VM').fill('mail (restored)');
    await shot('backups-restore-dialog', 'light');
    await shot('backups-restore-dialog', 'dark');
    await dialog.getByRole('button', { name: 'Restore' }).click();
    const card = page.getByRole('article', { name: /^Restore of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toMatch(/restored as "mail \(restored\)"/);
    await go('Hosts');
    await expect.poll(() => page.getByRole('region', { name: 'Pool Small shop' }).getByRole('row', { name: 'mail (restored)' }).count(), { timeout: 15_000 }).toBe(1);
  });

  it('verifies the point (ok) and exports it as an XVA: a relative path is refused at its field, a full one written', async () => {
    await go('Backups');
    await page.getByRole('button', { name: /^Verify mail / }).first().click();
    const verify = page.getByRole('article', { name: /^Verify of mail/ });
    await expect.poll(() => verify.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await verify.getByTestId('operation-outcome').textContent()).toMatch(/verified: every checksum matches/);

    await page.getByRole('button', { name: /^Export mail / }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Export mail' });
    const out = dialog.getByRole('textbox', { name: /^Output path/ });
    await out.fill('mail.xva');
    await dialog.getByRole('button', { name: 'Export' }).click();
    await expect.poll(() => dialog.getByTestId('issue-outPath').textContent()).toMatch(/full path/);
    const file = path.join(exportDir, 'mail.xva');
    await out.fill(file);
    await dialog.getByRole('button', { name: 'Export' }).click();
    const card = page.getByRole('article', { name: /^Export of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toContain(file);
    expect(existsSync(file)).toBe(true);
  });

  it('the dashboard shows the protected VM with its last good point and the job\'s next run', async () => {
    await go('Dashboard');
    await expect.poll(() => page.getByRole('region', { name: 'Protected VMs', exact: true }).textContent()).toMatch(/mail — last good point .* \(delta, job Nightly mail\)/);
    expect(await page.getByRole('region', { name: 'Next scheduled runs' }).textContent()).toMatch(/Nightly mail/);
    expect(await page.getByRole('region', { name: 'Last job runs' }).textContent()).toMatch(/success\s*Nightly mail/);
    expect(await page.getByRole('region', { name: 'Unprotected VMs' }).textContent()).toMatch(/erp-db — no job backs it up/);
    await shot('dashboard-jobs', 'light');
  });

  it('edits the job (renamed) and deletes it only after the confirmation', async () => {
    await go('Jobs');
    await page.getByRole('button', { name: 'Edit Nightly mail' }).click();
    const form = page.getByRole('form', { name: 'Edit job Nightly mail' });
    expect(await form.getByRole('textbox', { name: /^Cron pattern/ }).inputValue()).toBe('30 1 * * *');
    await form.getByRole('textbox', { name: 'Name', exact: true }).first().fill('Mail nightly');
    await form.getByRole('button', { name: 'Save job' }).click();
    await expect.poll(() => page.getByRole('row', { name: /Mail nightly/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete Mail nightly' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete the job “Mail nightly”?' });
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    expect(await page.getByRole('row', { name: /Mail nightly/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete Mail nightly' }).click();
    await confirm.getByRole('button', { name: 'Delete the job' }).click();
    await expect.poll(() => page.getByRole('row', { name: /Mail nightly/ }).count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
  it('deletes a backup point only after the confirmation, which says what happens to the chain', async () => {
    await go('Backups');
    const rows = () => page.getByRole('table', { name: /^Backups of mail on / }).locator('tbody tr').count();
    // The list arrives after the page: wait for it before counting.
    await expect.poll(rows, { timeout: 15_000 }).toBeGreaterThan(0);
    const before = await rows();
    await page.getByRole('button', { name: /^Delete mail / }).first().click();
    const confirm = page.getByRole('dialog', { name: /^Delete the backup of mail from / });
    expect(await confirm.textContent()).toMatch(/merged into the next point|XVA, checksum and metadata/);
    await shot('backups-delete-confirm', 'light');
    await shot('backups-delete-confirm', 'dark');
    await page.evaluate(`document.documentElement.dataset.theme = 'light'; window.dispatchEvent(new CustomEvent('sluice-theme'));`);
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    expect(await rows()).toBe(before);
    await page.getByRole('button', { name: /^Delete mail / }).first().click();
    await confirm.getByRole('button', { name: 'Delete point' }).click();
    const card = page.getByRole('article', { name: /^Delete of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toMatch(/deleted/);
    await expect.poll(rows, { timeout: 15_000 }).toBe(before - 1);
    expect(consoleErrors).toEqual([]);
  });
});
