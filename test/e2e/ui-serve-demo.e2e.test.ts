import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfSettingsStore } from '../../src-main/settings/conf-settings-store.js';
import { launchChromium } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { hostArgs, writePasswordFile } from '../helpers/cli-args.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { addFolderRemote, demoPoolOf, goTo, openSluicePage } from '../helpers/ui-page.js';

// What a new admin sees after `npm run serve -- --demo`, in Chromium: the demo pool already added and trusted
// (nothing to copy from the terminal), the same pool again after a restart on the same settings, and the
// engine's refusals of a relative spool folder and of an export into a folder that is not there.
let serve: ServeProcess | undefined;
let browser: Browser;
let page: Page;
let dataDir: string;
let work: string;
const temps: Array<() => void> = [];

async function startServe(): Promise<void> {
  serve = await startServeProcess(['--port', '0', '--data-dir', dataDir, '--demo']);
  page = await openSluicePage(browser, serve, { width: 1280, height: 800 });
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  const data = makeTempDir();
  const w = makeTempDir();
  temps.push(data.cleanup, w.cleanup);
  dataDir = data.dir;
  work = w.dir;
  browser = await launchChromium();
  await startServe();
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

const unprotected = () => page.getByRole('region', { name: 'Unprotected VMs' }).textContent();

describe('sluice serve --demo (Chromium)', () => {
  it("the first screen already shows the demo pool's VMs to back up: the pool is added and trusted", async () => {
    await expect.poll(unprotected, { timeout: 20_000 }).toContain('erp-db');
    expect(await unprotected()).toContain('mail');
    expect(await page.getByText('Start by adding a pool').count()).toBe(0);
    await goTo(page, 'Hosts');
    await expect
      .poll(() => page.getByRole('region', { name: 'Pool Small shop' }).getByRole('row', { name: 'mail' }).count())
      .toBe(1);
    const hosts = new ConfSettingsStore(dataDir).get().hosts;
    expect(hosts.map((h) => [h.label, h.url, h.trustedFingerprint])).toEqual([
      ['Small shop (demo)', demoPoolOf(serve!).url, demoPoolOf(serve!).fingerprint],
    ]);
  });

  it('started again on the same settings, it is the same pool, its new certificate trusted', async () => {
    const before = new ConfSettingsStore(dataDir).get().hosts;
    await page.close();
    await serve!.stop();
    await startServe();
    await expect.poll(unprotected, { timeout: 20_000 }).toContain('erp-db');
    const after = new ConfSettingsStore(dataDir).get().hosts;
    expect(after.map((h) => h.id)).toEqual(before.map((h) => h.id));
    expect(after[0]!.trustedFingerprint).toBe(demoPoolOf(serve!).fingerprint);
  });

  it('Settings refuses a relative spool folder, saying why, and saves nothing', async () => {
    await goTo(page, 'Settings');
    await page.getByRole('textbox', { name: /^Spool folder/ }).fill('spool');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/The spool folder "spool" is not a full path; nothing was saved\..*Enter the full path/);
    expect(new ConfSettingsStore(dataDir).get().preferences.spoolDir).toBeNull();
    await page.reload();
    await page.getByText('Engine connected').waitFor();
    await goTo(page, 'Settings');
    await expect.poll(() => page.getByRole('textbox', { name: /^Spool folder/ }).inputValue()).toBe('');
  });

  it('Export refuses a destination folder that does not exist, as the CLI does, creating nothing', async () => {
    const demo = demoPoolOf(serve!);
    const remote = path.join(work, 'remote');
    mkdirSync(remote);
    const login = { url: demo.url, username: demo.user, fingerprint: demo.fingerprint };
    const backup = await runCli([
      'backup',
      ...hostArgs(login, writePasswordFile(work, demo.password)),
      ...['--vm', 'mail', '--remote', remote, '--mode', 'full', '--data-dir', path.join(work, 'cli-data')],
    ]);
    expect(backup.code, backup.stderr).toBe(0);
    await addFolderRemote(page, 'NAS', remote);
    await goTo(page, 'Backups');
    await page
      .getByRole('button', { name: /^Export mail / })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'Export mail' });
    const out = path.join(work, 'usb-not-mounted', 'mail.xva');
    await dialog.getByRole('textbox', { name: /^Output path/ }).fill(out);
    await dialog.getByRole('button', { name: 'Export' }).click();
    await expect
      .poll(() => dialog.getByTestId('issue-outPath').textContent())
      .toMatch(new RegExp(`The folder ${path.dirname(out)} does not exist`));
    expect(readdirSync(work).sort()).toEqual(['cli-data', 'pw', 'remote']);
  });
});
