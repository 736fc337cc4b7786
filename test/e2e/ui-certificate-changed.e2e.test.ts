import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimHandle } from '../../src-sim/index.js';
import { launchChromium } from '../helpers/chromium.js';
import { openSluicePage } from '../helpers/ui-page.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { smallPool } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// A pool Sluice already knows comes back with another certificate (reinstalled, renewed — or intercepted):
// the next start of Sluice must refuse it, say so on the Dashboard and on Hosts with both fingerprints, and let
// the admin approve the new one on purpose, in place (same pool, saved password, jobs), the exact one seen.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
let sim: SimHandle;
let serve: ServeProcess;
let browser: Browser;
let dataDir: string;
const temps: Array<() => void> = [];

async function open(): Promise<Page> {
  const page = await openSluicePage(browser, serve, { width: 1280, height: 800 });
  return page;
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
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
    // Both the headline and its hint, read at the same instant: the list is rebuilt as the connection state and
    // the dashboard's data arrive, in either order on a loaded machine.
    await expect
      .poll(
        async () => {
          const text = (await attention.textContent()) ?? '';
          return /certificate of pool .* changed/i.test(text) && /check the new fingerprint on its console/.test(text);
        },
        { timeout: 15_000 },
      )
      .toBe(true);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts' }).click();
    const warning = page
      .getByRole('region', { name: /^Pool / })
      .getByRole('alert')
      .filter({ hasText: 'has changed; Sluice will not talk to this pool' });
    await expect.poll(() => warning.textContent()).toMatch(/has changed; Sluice will not talk to this pool/);
    await expect.poll(() => warning.textContent()).toContain(`Now presented: ${rotated}`);
    expect(await warning.textContent()).toContain(`Approved: ${original}`);
    await page.screenshot({ path: path.join(SHOTS, 'hosts-known-pool-certificate-changed-light.png') });

    // Approved in place: the pool keeps its id, its saved password (nothing is typed again) and its jobs.
    await warning.getByRole('button', { name: 'Trust the new certificate' }).click();
    let confirm = page.getByRole('dialog', { name: /^Trust the new certificate of / });
    expect(await confirm.getByTestId('trusted-fingerprint').textContent()).toBe(original);
    expect(await confirm.getByTestId('new-fingerprint').textContent()).toBe(rotated);
    await page.screenshot({ path: path.join(SHOTS, 'hosts-trust-new-certificate-light.png') });

    // The certificate changes again while the admin reads: what they saw is refused, in words, with both.
    const again = await sim.control.rotateCertificate();
    await confirm.getByRole('button', { name: 'Trust this certificate' }).click();
    const refused = page
      .getByRole('region', { name: /^Pool / })
      .getByRole('alert')
      .filter({ hasText: 'Sluice did not trust the new certificate.' });
    await expect.poll(() => refused.count()).toBe(1);
    expect(await refused.textContent()).toMatch(
      new RegExp(
        `changed again since you looked: you approved ${rotated}, but .* presents ${again} now\\. Nothing was changed\\.`,
      ),
    );
    await expect.poll(() => warning.textContent()).toContain(`Now presented: ${again}`);

    await warning.getByRole('button', { name: 'Trust the new certificate' }).click();
    confirm = page.getByRole('dialog', { name: /^Trust the new certificate of / });
    expect(await confirm.getByTestId('new-fingerprint').textContent()).toBe(again);
    await confirm.getByRole('button', { name: 'Trust this certificate' }).click();
    const poolPanel = page.getByRole('region', { name: /^Pool / });
    await expect.poll(() => poolPanel.textContent(), { timeout: 15_000 }).toMatch(new RegExp(`connected.*${again}`));
    await expect
      .poll(() => poolPanel.getByRole('list', { name: /^Inventory of / }).count(), { timeout: 15_000 })
      .toBe(1);
    expect(await poolPanel.getByRole('list', { name: /^Inventory of / }).textContent()).toMatch(
      /db01.*web01|web01.*db01/,
    );
    expect(await poolPanel.getByRole('alert').count()).toBe(0);
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await page.getByRole('region', { name: /^Pool / }).count()).toBe(1);

    // The Dashboard no longer asks for attention about it.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await expect.poll(() => page.getByText(/certificate of pool .* changed/i).count()).toBe(0);
  });
});
