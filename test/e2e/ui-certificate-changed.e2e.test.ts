import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimHandle } from '../xapi-sim/index.js';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { smallPool } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// A pool Sluice already knows comes back with another certificate (reinstalled, renewed — or intercepted):
// the next start of Sluice must refuse it, say so on the Dashboard and on Hosts with both fingerprints, and let
// the admin approve the new one on purpose.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
let sim: SimHandle;
let serve: ServeProcess;
let browser: Browser;
let dataDir: string;
const temps: Array<() => void> = [];

async function open(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  await page.goto(serve.url);
  await page.getByText('Engine connected').waitFor();
  return page;
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html'))) throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  sim = await smallPool();
  const data = makeTempDir();
  temps.push(data.cleanup);
  dataDir = data.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', dataDir]);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  await sim?.stop();
  temps.forEach((c) => c());
});

describe('a known pool whose certificate changed (Chromium, sluice serve)', () => {
  it('is refused at the next start, shown with both fingerprints, and approved again on purpose', async () => {
    let page = await open();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts' }).click();
    await page.getByLabel('Pool address').fill(sim.url);
    await page.getByLabel('Username').fill(sim.username);
    await page.getByLabel('Password').fill(sim.password);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    const pool = page.getByRole('region', { name: /^Pool / });
    await expect.poll(() => pool.textContent(), { timeout: 15_000 }).toMatch(/connected/);
    const original = sim.fingerprint;
    await page.close();

    const rotated = await sim.control.rotateCertificate();
    expect(rotated).not.toBe(original);
    await serve.stop();
    serve = await startServeProcess(['--port', '0', '--data-dir', dataDir]);
    page = await open();

    // First thing on the Dashboard.
    const attention = page.getByRole('region', { name: 'Needs attention' });
    await expect.poll(() => attention.textContent(), { timeout: 15_000 }).toMatch(/certificate of pool .* changed/i);
    expect(await attention.textContent()).toMatch(/check the new fingerprint on its console/);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts' }).click();
    const warning = page.getByRole('region', { name: /^Pool / }).getByRole('alert');
    await expect.poll(() => warning.textContent()).toMatch(/has changed; Sluice will not talk to this pool/);
    await expect.poll(() => warning.textContent()).toContain(`Now presented: ${rotated}`);
    expect(await warning.textContent()).toContain(`Approved: ${original}`);
    await page.screenshot({ path: path.join(SHOTS, 'hosts-known-pool-certificate-changed-light.png') });

    await warning.getByRole('button', { name: 'Remove and add again' }).click();
    // The form is filled with the pool's address and user; only the password is asked again.
    expect(await page.getByLabel('Pool address').inputValue()).toContain(new URL(sim.url).host);
    expect(await page.getByLabel('Username').inputValue()).toBe(sim.username);
    await page.getByLabel('Password').fill(sim.password);
    await page.getByRole('button', { name: 'Connect' }).click();
    const dialog = page.getByRole('dialog', { name: 'Certificate changed' });
    expect(await dialog.getByTestId('known-fingerprint').textContent()).toBe(original);
    expect(await dialog.getByTestId('probe-fingerprint').textContent()).toBe(rotated);
    await dialog.getByRole('button', { name: 'Approve the new certificate and add pool' }).click();
    await expect.poll(() => page.getByRole('region', { name: /^Pool / }).textContent(), { timeout: 15_000 }).toMatch(new RegExp(`connected.*${rotated}`));
  });
});
