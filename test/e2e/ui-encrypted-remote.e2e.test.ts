import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { goTo, openSluicePage } from '../helpers/ui-page.js';

// Adding an encrypted remote in the Remotes view (Chromium, sluice serve): the key entered once, shown to be
// written down, refused until it is; the folder becomes XO's encrypted remote; the key is in no response and
// in no file of the data folder in the clear; a wrong key for it is refused with the remote named.
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let dataDir: string;
let remoteDir: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  temps.push(data.cleanup, remote.cleanup);
  dataDir = data.dir;
  remoteDir = remote.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir]);
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, { width: 1280, height: 900 }, consoleErrors);
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('an encrypted remote in the Remotes view', () => {
  it('asks for the key to be written down, then makes the folder an encrypted remote', async () => {
    await goTo(page, 'Remotes');
    await page.getByLabel('Name').fill('Offsite');
    await page.getByLabel('Folder').fill(remoteDir);
    await page.getByLabel(/Encrypt this remote/).check();
    const add = page.getByRole('button', { name: 'Add remote' });
    expect(await add.isDisabled()).toBe(true);
    await expect
      .poll(() => page.getByRole('note').textContent())
      .toContain('Without the key, the backups on this remote are lost');
    await page.getByRole('button', { name: 'Generate a key' }).click();
    const key = await page.getByLabel(/Encryption key/).inputValue();
    expect(key).toMatch(/^[A-Za-z2-9]{32}$/);
    expect(await page.getByText('32/32 characters').count()).toBe(1);
    // Not before the admin says the key is written down.
    expect(await add.isDisabled()).toBe(true);
    await page.getByLabel('I have written the key down').check();
    await add.click();
    const row = page.getByRole('row', { name: /Offsite/ });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByText('encrypted').count()).toBe(1);
    // The form forgets the key once the remote is added.
    expect(await page.getByLabel(/Encryption key/).count()).toBe(0);
    expect(JSON.parse(readFileSync(path.join(remoteDir, 'encryption.json'), 'utf8'))).toEqual({
      algorithm: 'chacha20-poly1305',
    });
    expect(existsSync(path.join(remoteDir, 'metadata.json'))).toBe(true);
    for (const f of filesUnder(dataDir)) expect(readFileSync(f).includes(Buffer.from(key)), f).toBe(false);
    expect(await page.content()).not.toContain(key);

    // The same folder with another key: refused, the remote named, nothing added.
    await page.getByLabel('Name').fill('Offsite again');
    await page.getByLabel('Folder').fill(remoteDir);
    await page.getByLabel(/Encrypt this remote/).check();
    await page.getByLabel(/Encryption key/).fill('x'.repeat(32));
    await page.getByLabel('I have written the key down').check();
    await add.click();
    await expect
      .poll(() => page.getByRole('alert').allTextContents())
      .toContainEqual(expect.stringContaining(`The key given does not open the encrypted remote ${remoteDir}.`));
    expect(await page.getByRole('row', { name: /Offsite again/ }).count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
});
