import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHostDownload } from '../../src-main/xapi/http-export.js';
import { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { addDemoPool, addFolderRemote, type DemoPool, demoPoolOf, goTo, openSluicePage } from '../helpers/ui-page.js';

// Jobs, run history, restore, verify and export through the desktop UI, in Chromium against `sluice serve --demo`.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let demo: DemoPool;
let remoteDir: string;
let exportDir: string;
const consoleErrors: string[] = [];

async function shot(name: string, theme: 'light' | 'dark') {
  await page.evaluate(
    `document.documentElement.dataset.theme = '${theme}'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
  );
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`), fullPage: false });
}

/** The demo pool through its own API, as an admin's script would see it. */
function poolApi(): Promise<XapiSession> {
  return XapiSession.connect({
    url: demo.url,
    username: demo.user,
    password: demo.password,
    trustedFingerprint: demo.fingerprint,
  });
}

/** The uuid of a VM's first disk on the demo pool (the live VM, not a snapshot). */
async function firstDiskOf(xapi: XapiSession, vmName: string): Promise<string> {
  for (const vm of await xapi.call<string[]>('VM.get_by_name_label', vmName)) {
    if (await xapi.call<boolean>('VM.get_is_a_snapshot', vm)) continue;
    for (const vbd of await xapi.call<string[]>('VM.get_VBDs', vm)) {
      if ((await xapi.call<string>('VBD.get_type', vbd)) === 'Disk')
        return xapi.call<string>('VDI.get_uuid', await xapi.call<string>('VBD.get_VDI', vbd));
    }
  }
  throw new Error(`no disk of ${vmName} on the demo pool`);
}

/** A VDI as the host's own export gives it (a VHD of its allocated blocks): what qemu-img compares against. */
async function hostVhd(xapi: XapiSession, vdiUuid: string, file: string): Promise<string> {
  const vdi = await xapi.call<string>('VDI.get_by_uuid', vdiUuid);
  const download = await openHostDownload(
    xapi,
    '/export_raw_vdi',
    { vdi, format: 'vhd' },
    { context: { disk: vdiUuid } },
  );
  await pipeline(Readable.from(download.body), createWriteStream(file));
  return `driver=vpc,force_size_calc=current_size,file.filename=${file}`;
}

/** qemu-img compare: exit 0 when both images hold the same bytes (holes read as zeros). */
function sameContent(a: string, b: string): boolean {
  return /Images are identical/.test(execFileSync('qemu-img', ['compare', '--image-opts', a, b]).toString());
}

const go = (name: string) => goTo(page, name);

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  const out = makeTempDir('sluice-export-');
  temps.push(data.cleanup, remote.cleanup, out.cleanup);
  remoteDir = remote.dir;
  exportDir = out.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual']);
  demo = demoPoolOf(serve);
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, { width: 1280, height: 900 }, consoleErrors);
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('jobs, history, restore, verify, export in the desktop UI (Chromium, sluice serve --demo)', () => {
  it('adds the demo pool and a folder remote', async () => {
    await addDemoPool(page, demo);
    await addFolderRemote(page, 'Local disk', remoteDir);
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
    await expect
      .poll(() => form.getByTestId('cron-preview-0').textContent())
      .toMatch(/is not a cron pattern Sluice can read: 61 is not a valid minute/);
    await form.getByLabel('Speed limit (MiB/s, whole job)').fill('8');
    await form.getByRole('button', { name: 'Create job' }).click();
    // The engine's refusal, at the cron field (not a generic banner only).
    await expect
      .poll(() => form.getByTestId('issue-schedules-0-cron').textContent())
      .toMatch(/not a cron pattern Sluice can read/);
    expect(await cron.getAttribute('aria-invalid')).toBe('true');
    await shot('jobs-form-refused', 'light');
    await shot('jobs-form-refused', 'dark');

    await cron.fill('30 1 * * *');
    await expect
      .poll(() => form.getByTestId('cron-preview-0').textContent())
      .toMatch(/^Every day at 01:30\. Next: .+ · .+ · .+/);
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
    // An incremental run reports per disk: the VM's row sums its disks, each disk has its own row.
    const transfers = card.getByRole('table', { name: 'Transfers of Job Nightly mail' });
    expect(await transfers.getByRole('row', { name: 'mail, all disks' }).textContent()).toMatch(/1 disk\s*done/);
    expect(await transfers.getByRole('row', { name: 'mail disk mail' }).getAttribute('data-status')).toBe('done');

    await go('Jobs');
    await expect.poll(() => page.getByRole('row', { name: /Nightly mail/ }).textContent()).toMatch(/success/);
    await page.getByRole('button', { name: 'History of Nightly mail' }).click();
    const history = page.getByRole('region', { name: 'History of Nightly mail' });
    await expect.poll(() => history.getByRole('row').count()).toBe(2);
    expect(await history.getByRole('row').nth(1).textContent()).toMatch(/manual\s*success/);
    await history.getByRole('button', { name: 'Details' }).click();
    const detail = page.getByTestId('run-detail');
    await expect
      .poll(() => detail.getByRole('table', { name: 'Results per VM' }).textContent())
      .toMatch(/mail\s*success/);
    // The stored samples drawn by the live graph's component: several points, not an empty frame.
    await expect
      .poll(async () => Number(await detail.getByTestId('transfer-graph').getAttribute('data-points')))
      .toBeGreaterThan(2);
    await detail.getByRole('button', { name: 'Copy summary' }).click();
    await expect.poll(() => detail.getByTestId('run-summary-text').textContent()).toMatch(/Nightly mail/);
    await detail.scrollIntoViewIfNeeded();
    await shot('jobs-history', 'light');
    await shot('jobs-history', 'dark');
  });

  it('restores the point to the demo pool: SR per disk offered, a new VM appears in the Hosts tree', async () => {
    await go('Backups');
    await page
      .getByRole('button', { name: /^Restore mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Restore mail' });
    await expect.poll(() => dialog.getByRole('combobox', { name: /^SR for disk 0 “mail”/ }).count()).toBe(1);
    expect(await dialog.getByRole('combobox', { name: /^SR for disk 0/ }).textContent()).toMatch(
      /NFS storage.*default/,
    );
    await dialog.getByLabel('Name of the new VM').fill('mail (restored)');
    await shot('backups-restore-dialog', 'light');
    await shot('backups-restore-dialog', 'dark');
    await dialog.getByRole('button', { name: 'Restore' }).click();
    const card = page.getByRole('article', { name: /^Restore of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toMatch(/restored as "mail \(restored\)"/);
    await go('Hosts');
    await expect
      .poll(
        () =>
          page.getByRole('region', { name: 'Pool Small shop' }).getByRole('row', { name: 'mail (restored)' }).count(),
        { timeout: 15_000 },
      )
      .toBe(1);
  });

  it('verifies the point (ok) and exports it as an XVA: a relative path is refused at its field, a full one written', async () => {
    await go('Backups');
    await page
      .getByRole('button', { name: /^Verify mail / })
      .first()
      .click();
    const verify = page.getByRole('article', { name: /^Verify of mail/ });
    await expect.poll(() => verify.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await verify.getByTestId('operation-outcome').textContent()).toMatch(/verified: every checksum matches/);

    await page
      .getByRole('button', { name: /^Export mail / })
      .first()
      .click();
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

  it('lists the point with its chain and its job by name', async () => {
    await go('Backups');
    const table = page.getByRole('table', { name: /^Backups of mail on / });
    await expect.poll(() => table.locator('tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const row = table.locator('tbody tr').first();
    expect(await row.getByTestId('point-chain').textContent()).toBe('base');
    expect(await row.getByTestId('point-job').textContent()).toBe('Nightly mail');
    await shot('backups-list', 'light');
    await shot('backups-list', 'dark');
  });

  it('restores one disk of the point: a new disk of the same size and content on the chosen SR, attached to no VM', async () => {
    await go('Backups');
    await page
      .getByRole('button', { name: /^Restore mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Restore mail' });
    // Keyboard only: the choice, the disk, the SR, the name.
    await dialog.getByRole('radio', { name: /^One disk/ }).focus();
    await page.keyboard.press('Space');
    expect(await dialog.getByRole('radio', { name: /^One disk/ }).isChecked()).toBe(true);
    const disk = dialog.getByRole('combobox', { name: 'Disk', exact: true });
    await expect.poll(() => disk.textContent()).toMatch(/Disk 0 “mail” \(40\.0 GiB\)/);
    expect(await dialog.getByRole('checkbox', { name: /Start the VM/ }).count()).toBe(0);
    const sr = dialog.getByRole('combobox', { name: 'SR of the new disk' });
    await sr.selectOption((await sr.locator('option', { hasText: /^Local storage/ }).getAttribute('value'))!);
    await dialog.getByRole('textbox', { name: 'Name of the new disk' }).fill('mail disk (restored)');
    await shot('backups-restore-disk-dialog', 'light');
    await shot('backups-restore-disk-dialog', 'dark');
    await dialog.getByRole('button', { name: 'Restore disk' }).click();
    const card = page.getByRole('article', { name: /^Restore of disk 0 “mail” of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    const outcome = (await card.getByTestId('operation-outcome').textContent())!;
    expect(outcome).toMatch(
      /Disk 0 “mail” of mail .* restored as the new disk “mail disk \(restored\)” \(VDI [0-9a-f-]{36}\) on the SR “Local storage” .* attached to no VM/,
    );
    const vdiUuid = /VDI ([0-9a-f-]{36})/.exec(outcome)![1]!;

    const xapi = await poolApi();
    try {
      const vdi = await xapi.call<string>('VDI.get_by_uuid', vdiUuid);
      const record = await xapi.call<{ name_label: string; virtual_size: string | number; SR: string; VBDs: string[] }>(
        'VDI.get_record',
        vdi,
      );
      expect(record.name_label).toBe('mail disk (restored)');
      expect(Number(record.virtual_size)).toBe(40 * 1024 ** 3);
      expect(record.VBDs).toEqual([]);
      expect(await xapi.call<string>('SR.get_name_label', record.SR)).toBe('Local storage');
      const original = await firstDiskOf(xapi, 'mail');
      expect(
        sameContent(
          await hostVhd(xapi, vdiUuid, path.join(exportDir, 'restored.vhd')),
          await hostVhd(xapi, original, path.join(exportDir, 'original.vhd')),
        ),
      ).toBe(true);
    } finally {
      await xapi.close();
    }
  });

  it('exports one disk as a raw image: qemu-img reads it as the disk, same size and content', async () => {
    await go('Backups');
    await page
      .getByRole('button', { name: /^Export mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Export mail' });
    const disks = dialog.getByRole('combobox', { name: 'Disks' });
    // An XVA holds the whole VM: the disk choice is there but off until a per-disk format is picked.
    expect(await disks.isDisabled()).toBe(true);
    await dialog.getByRole('radio', { name: /^Raw image per disk/ }).check();
    await expect.poll(() => disks.isDisabled()).toBe(false);
    await disks.selectOption({ label: 'Disk 0 “mail” (40.0 GiB)' });
    const file = path.join(exportDir, 'mail-disk0.raw');
    await dialog.getByRole('textbox', { name: /^Output path/ }).fill(file);
    await shot('backups-export-disk-dialog', 'light');
    await dialog.getByRole('button', { name: 'Export' }).click();
    const card = page.getByRole('article', { name: /^Export of disk 0 of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toContain(file);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file]).toString()) as {
      format: string;
      'virtual-size': number;
    };
    expect(info).toMatchObject({ format: 'raw', 'virtual-size': 40 * 1024 ** 3 });
    const xapi = await poolApi();
    try {
      expect(
        sameContent(
          `driver=raw,file.filename=${file}`,
          await hostVhd(xapi, await firstDiskOf(xapi, 'mail'), path.join(exportDir, 'mail-host.vhd')),
        ),
      ).toBe(true);
    } finally {
      await xapi.close();
    }
  });

  it("the dashboard shows the protected VM with its last good point and the job's next run", async () => {
    await go('Dashboard');
    await expect
      .poll(() => page.getByRole('region', { name: 'Protected VMs', exact: true }).textContent())
      .toMatch(/mail — last good point .* \(delta, job Nightly mail\)/);
    expect(await page.getByRole('region', { name: 'Next scheduled runs' }).textContent()).toMatch(/Nightly mail/);
    expect(await page.getByRole('region', { name: 'Last job runs' }).textContent()).toMatch(/success\s*Nightly mail/);
    expect(await page.getByRole('region', { name: 'Unprotected VMs' }).textContent()).toMatch(
      /erp-db — no job backs it up/,
    );
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
    const rows = () =>
      page
        .getByRole('table', { name: /^Backups of mail on / })
        .locator('tbody tr')
        .count();
    // The list arrives after the page: wait for it before counting.
    await expect.poll(rows, { timeout: 15_000 }).toBeGreaterThan(0);
    const before = await rows();
    // Its job was deleted just before: the point keeps the job's id, marked so.
    expect(
      await page
        .getByRole('table', { name: /^Backups of mail on / })
        .getByTestId('point-job')
        .first()
        .textContent(),
    ).toMatch(/^\S+ job deleted$/);
    await page
      .getByRole('button', { name: /^Delete mail / })
      .first()
      .click();
    const confirm = page.getByRole('dialog', { name: /^Delete the backup of mail from / });
    expect(await confirm.textContent()).toMatch(/merged into the next point|XVA, checksum and metadata/);
    await shot('backups-delete-confirm', 'light');
    await shot('backups-delete-confirm', 'dark');
    await page.evaluate(
      `document.documentElement.dataset.theme = 'light'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
    );
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    expect(await rows()).toBe(before);
    await page
      .getByRole('button', { name: /^Delete mail / })
      .first()
      .click();
    await confirm.getByRole('button', { name: 'Delete point' }).click();
    const card = page.getByRole('article', { name: /^Delete of mail/ });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('operation-outcome').textContent()).toMatch(/deleted/);
    await expect.poll(rows, { timeout: 15_000 }).toBe(before - 1);
    expect(consoleErrors).toEqual([]);
  });

  it('a two-disk incremental backup shows a row per disk live: the second waits while the first copies, the VM sums them', async () => {
    await go('Hosts');
    await page.getByRole('button', { name: 'Back up erp-db now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up erp-db now' });
    await dialog.getByLabel('Remote').selectOption({ label: 'Local disk' });
    await dialog.getByRole('radio', { name: /^Delta \(/ }).check();
    await dialog.getByLabel('Speed limit (MiB/s)').fill('8');
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    const card = page.getByRole('article', { name: 'Backup of erp-db' });
    const table = card.getByRole('table', { name: 'Transfers of Backup of erp-db' });
    const status = (disk: string) =>
      table.getByRole('row', { name: `erp-db disk ${disk}` }).getAttribute('data-status');
    await expect.poll(() => status('erp-db os'), { timeout: 30_000 }).toBe('transfer');
    expect(await status('erp-db data')).toBe('waiting');
    const vmRow = table.getByRole('row', { name: 'erp-db, all disks' });
    expect(await vmRow.textContent()).toMatch(/all 2 disks\s*transfer/);
    // The waiting disk's block table has not arrived: it counts by its estimate from its allocation, so the VM's
    // total is an estimate ("≈"), with a bar that moves, never a made-up length.
    expect(await vmRow.getByRole('progressbar').getAttribute('aria-valuetext')).toMatch(/^\d+\.\d %$/);
    expect(await vmRow.textContent()).toMatch(/≈ [\d.]+ MiB/);
    expect(await table.getByRole('row', { name: 'erp-db disk erp-db data' }).textContent()).toMatch(/≈ [\d.]+ MiB/);
    await shot('transfers-per-disk', 'light');
    await shot('transfers-per-disk', 'dark');
    await page.evaluate(
      `document.documentElement.dataset.theme = 'light'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
    );
    await expect.poll(() => status('erp-db data'), { timeout: 30_000 }).toBe('transfer');
    expect(await status('erp-db os')).toBe('done');
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await status('erp-db data')).toBe('done');
    expect(await vmRow.getByRole('progressbar').getAttribute('aria-valuetext')).toBe('100.0 %');
    expect(consoleErrors).toEqual([]);
  });
  it('creates a mirror job to a second remote and runs it: no source is refused at its field, the copy is recorded', async () => {
    const offsite = makeTempDir('sluice-offsite-');
    temps.push(offsite.cleanup);
    await addFolderRemote(page, 'Offsite', offsite.dir);
    await go('Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    const form = page.getByRole('form', { name: 'New job' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).first().fill('Offsite copy');
    await form.getByRole('radio', { name: /^Mirror a remote/ }).check();
    expect(await form.getByTestId('mirror-vms').textContent()).toMatch(
      /Every VM the source holds incremental points of/,
    );
    // No pool, no VM picker, no host-side compression: a mirror copies points as they are.
    expect(await form.getByRole('searchbox', { name: 'Search VMs' }).count()).toBe(0);
    expect(await form.getByLabel(/^Compression/).count()).toBe(0);
    await form.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => form.getByTestId('issue-mirrorFrom').textContent()).toMatch(/Pick the remote to copy from/);
    await form.getByRole('combobox', { name: 'Copy from' }).selectOption({ label: 'Local disk' });
    // The source is not offered as a target.
    expect(await form.getByRole('checkbox', { name: /^Local disk/ }).count()).toBe(0);
    await form.getByRole('checkbox', { name: /^Offsite/ }).check();
    await shot('jobs-mirror-form', 'light');
    await form.getByRole('button', { name: 'Create job' }).click();
    const row = page.getByRole('row', { name: /Offsite copy/ });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toMatch(/mirror of Local disk \(incremental points\)/);

    await page.getByRole('button', { name: 'Run Offsite copy now' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');
    const card = page.getByRole('article', { name: 'Job Offsite copy' });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    const result = await card.getByTestId('run-result').textContent();
    expect(result).toMatch(/^The mirror finished\./);
    // Every VM the source holds incremental points of (mail's were deleted above; erp-db's "Back up now" is left).
    expect(result).toMatch(/erp-db: copied, [\d.]+ \w+ \(newest point \d{8}T\d{6}Z\)\./);
    const copied = (await listBackupPoints(offsite.dir)).points;
    const source = (await listBackupPoints(remoteDir)).points.filter((p) => p.mode === 'delta');
    expect(source.length).toBeGreaterThan(0);
    expect(copied.map((p) => `${p.vmName} ${p.id}`).sort()).toEqual(source.map((p) => `${p.vmName} ${p.id}`).sort());
    await go('Jobs');
    await expect.poll(() => page.getByRole('row', { name: /Offsite copy/ }).textContent()).toMatch(/success/);
    expect(consoleErrors).toEqual([]);
  });
});
