import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SHOTS = path.join(ROOT, 'test-output', 'screenshots');

let serve: ServeProcess;
let browser: Browser;
let cleanup: () => void;

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const t = makeTempDir();
  cleanup = t.cleanup;
  serve = await startServeProcess(['--port', '0', '--data-dir', t.dir, '--demo', '--demo-manual']);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  cleanup?.();
});

describe('the UI shell in Chromium against `sluice serve`', () => {
  it('connects with the token, navigates, adds a pool and a remote, and survives bad input', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(serve.url);
    await expect.poll(() => page.getByTestId('engine-state').textContent()).toBe('Engine connected');
    // The token leaves the address bar once read.
    expect(page.url()).not.toContain('token=');

    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Dashboard', 'Hosts', 'Transfers', 'Jobs', 'Backups', 'Remotes', 'Settings']) {
      await nav.getByRole('link', { name }).click();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(name);
    }

    const demo = /Demo pool "Small shop" at (\S+) \(user (\S+), password (\S+), certificate (\S+)\)/.exec(
      serve.output(),
    )!;
    expect(demo).not.toBeNull();
    const [, poolUrl, user, password, fingerprint] = demo;
    await nav.getByRole('link', { name: 'Hosts' }).click();
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Enter the pool address/);
    await page.getByLabel('Pool address').fill(poolUrl!);
    await page.getByLabel('Username').fill(user!);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByTestId('probe-fingerprint').textContent()).toBe(fingerprint);
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent(), { timeout: 15_000 })
      .toMatch(/wrong username or password/);
    await page.getByLabel('Password').fill(password!);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Pool Small shop' }).textContent(), { timeout: 15_000 })
      .toContain(poolUrl!);

    await nav.getByRole('link', { name: 'Remotes' }).click();
    await page.getByLabel('Name').fill('NAS');
    await page.getByLabel('Folder').fill('/mnt/backups');
    await page.getByRole('button', { name: 'Add remote' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Remotes' }).textContent()).toContain('/mnt/backups');
    // A remote that is not mounted is said, with what to do, on the remote's row.
    await expect
      .poll(() => page.getByRole('table', { name: 'Remotes' }).getByRole('alert').textContent())
      .toMatch(/does not exist.*mounted/);

    await nav.getByRole('link', { name: 'Dashboard' }).click();
    await expect.poll(() => page.getByTestId('pools-count').textContent()).toBe('1');
    await page.screenshot({ path: path.join(SHOTS, 'shell-dashboard-light.png') });
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Dark').check();
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark');
    await page.screenshot({ path: path.join(SHOTS, 'shell-settings-dark.png') });
    expect(consoleErrors).toEqual([]);
  });

  it('shows a page opened without the token as disconnected, and the engine refuses it', async () => {
    const page = await browser.newPage();
    const origin = new URL(serve.url).origin;
    await page.goto(`${origin}/`);
    await expect.poll(() => page.getByTestId('engine-state').textContent()).toMatch(/disconnected/);
    expect(serve.output()).toMatch(/refused a WebSocket connection: Unauthorized/);
  });
});
