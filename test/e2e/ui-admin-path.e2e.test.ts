import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountThrottled, throttledMountAvailable, type ThrottledMount } from '../../bench/lib/throttled-mount.js';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { goTo, openSluicePage } from '../helpers/ui-page.js';

// The admin's path through the desktop UI, in Debian's Chromium against `sluice serve --demo`: the real engine,
// the simulated "Small shop" pool as the only stand-in, real folders (and a real slow FUSE folder) as remotes.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const fuse = throttledMountAvailable();
if (!fuse.ok) console.warn(`the stalling-destination test needs FUSE: ${fuse.why}`);

let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let demo: { url: string; user: string; password: string; fingerprint: string; control: string };
let remoteDir: string;

async function control(pathname: string, body?: unknown): Promise<unknown> {
  const res = await fetch(
    `${demo.control}${pathname}`,
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  if (!res.ok) throw new Error(`control ${pathname}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function shot(name: string, theme: 'light' | 'dark') {
  // As the Settings page does it (html[data-theme] + the redraw event), without saving a preference.
  await page.evaluate(
    `document.documentElement.dataset.theme = '${theme}'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
  );
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`), fullPage: false });
}

const go = (name: string) => goTo(page, name);

/** "Back up now" on a VM, with a speed limit so the run lasts long enough to watch; lands on Transfers. */
async function backUpNow(vm: string, remote: string, limitMiB: string, mode: 'Full' | 'Delta' = 'Full') {
  await go('Hosts');
  await page.getByRole('button', { name: `Back up ${vm} now` }).click();
  const dialog = page.getByRole('dialog', { name: `Back up ${vm} now` });
  await dialog.getByLabel('Remote').selectOption({ label: remote });
  await dialog.getByRole('radio', { name: new RegExp(`^${mode} \\(`) }).check();
  await dialog.getByLabel('Speed limit (MiB/s)').fill(limitMiB);
  await dialog.getByRole('button', { name: 'Start backup' }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');
  return page.getByRole('article', { name: `Backup of ${vm}` }).first();
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  temps.push(data.cleanup, remote.cleanup);
  remoteDir = remote.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual']);
  const m = /Demo pool "Small shop" at (\S+) \(user (\S+), password (\S+), certificate (\S+)\)/.exec(serve.output())!;
  const c = /Demo pool control API at (\S+)/.exec(serve.output())!;
  demo = { url: m[1]!, user: m[2]!, password: m[3]!, fingerprint: m[4]!, control: c[1]! };
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, { width: 1280, height: 800 });
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('the desktop UI, the admin path (Chromium, sluice serve --demo)', () => {
  const consoleErrors: string[] = [];

  it('adds the demo pool: a wrong password said in words, then the fingerprint approved; the inventory tree is live', async () => {
    page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
    await go('Hosts');
    await page.getByLabel('Pool address').fill(demo.url);
    await page.getByLabel('Username').fill(demo.user);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByTestId('probe-fingerprint').textContent()).toBe(demo.fingerprint);
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toMatch(/wrong username or password/i);
    // What to do, not a bare code.
    expect(await alert.textContent()).not.toMatch(/SESSION_AUTHENTICATION_FAILED|at .*\.ts:\d+/);
    await shot('hosts-wrong-password', 'light');

    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Approve and add pool' }).click();
    const pool = page.getByRole('region', { name: 'Pool Small shop' });
    await expect.poll(() => pool.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => pool.getByRole('row', { name: 'erp-db' }).count(), { timeout: 15_000 }).toBe(1);

    // Power state, disks with sizes, tags, exclusions.
    const fileserver = pool.getByRole('row', { name: 'fileserver' });
    expect(await fileserver.textContent()).toMatch(/running/);
    expect(await fileserver.textContent()).toMatch(/fileserver shares\s*100\.0 GiB/);
    expect(await fileserver.getByText('excluded').count()).toBe(1); // the [NOBAK] disk
    const testVm = pool.getByRole('row', { name: 'test-vm' });
    expect(await testVm.textContent()).toMatch(/excluded/);
    expect(await testVm.textContent()).toMatch(/xo:no-bak/);
    expect(await page.getByRole('button', { name: 'Back up test-vm now' }).isDisabled()).toBe(true);

    // Live: the host starts "mail"; the tree follows without a reload.
    const mail = pool.getByRole('row', { name: 'mail' });
    expect(await mail.textContent()).toMatch(/halted/);
    const mailUuid = (await mail.getAttribute('data-vm-uuid'))!;
    await control(`/vms/${mailUuid}/power-state`, { powerState: 'Running' });
    await expect
      .poll(() => pool.getByRole('row', { name: 'mail' }).textContent(), { timeout: 10_000 })
      .toMatch(/running/);

    // Keyboard: the host's disclosure collapses and expands its VMs.
    const toggle = pool.getByRole('button', { name: /^Collapse / }).first();
    await toggle.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => pool.getByRole('button', { name: /^Expand / }).count()).toBe(1);
    await page.keyboard.press('Enter');
    await expect.poll(() => pool.getByRole('button', { name: /^Expand / }).count()).toBe(0);
  });

  it('adds a folder remote, refuses a relative one with a hint, and tests it: writable, free space, write speed', async () => {
    await go('Remotes');
    await page.getByLabel('Name').fill('Bad');
    await page.getByLabel('Folder').fill('backups/here');
    await page.getByRole('button', { name: 'Add remote' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/not an absolute folder path.*Use the full path/);

    await page.getByLabel('Name').fill('Local disk');
    await page.getByLabel('Folder').fill(remoteDir);
    await page.getByRole('button', { name: 'Add remote' }).click();
    const row = page.getByRole('row', { name: 'Local disk' });
    await expect.poll(() => row.textContent()).toContain(remoteDir);
    await expect.poll(() => row.textContent()).toMatch(/0 points of 0 VMs/);
    await page.getByRole('button', { name: 'Test remote Local disk' }).click();
    const result = page.getByRole('status', { name: 'Test of Local disk' });
    await expect
      .poll(() => result.textContent(), { timeout: 30_000 })
      .toMatch(
        /Local disk is writable\. Free space [\d.]+ [KMGT]iB of [\d.]+ [KMGT]iB; write speed [\d.]+ [KMGT]?i?B\/s/,
      );
  });

  it('backs up a VM now: the graph moves, numbers change, an estimated total says so, and the run finishes', async () => {
    const card = await backUpNow('fileserver', 'Local disk', '12');
    const graph = card.getByTestId('transfer-graph');
    await expect.poll(() => card.getByTestId('run-phase').textContent(), { timeout: 15_000 }).toMatch(/transfer/);
    // An XVA export has no length: the total is an estimate from the disks' allocation, marked as one.
    expect(await card.getByTestId('bytes-total').textContent()).toMatch(/^≈ [\d.]+ MiB$/);
    expect(await card.getByTestId('progress-text').textContent()).toMatch(/^\d+\.\d %$/);
    expect(
      await card
        .getByRole('progressbar', { name: 'Overall progress of Backup of fileserver' })
        .getAttribute('aria-valuetext'),
    ).toMatch(/^\d+\.\d %$/);

    const canvas = async () =>
      graph.locator('canvas').evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    const points = async () => Number(await graph.getAttribute('data-points'));
    await expect.poll(points, { timeout: 10_000 }).toBeGreaterThan(3);
    const before = {
      img: await canvas(),
      points: await points(),
      bytes: await card.getByTestId('bytes-done').textContent(),
    };
    await page.waitForTimeout(1500);
    const after = {
      img: await canvas(),
      points: await points(),
      bytes: await card.getByTestId('bytes-done').textContent(),
    };
    // ≥4 samples a second reach the graph, and it redraws.
    expect(after.points - before.points).toBeGreaterThanOrEqual(4);
    expect(after.img).not.toBe(before.img);
    expect(after.bytes).not.toBe(before.bytes);
    expect(await card.getByTestId('source-rate').textContent()).toMatch(/[KM]iB\/s/);
    await expect
      .poll(() => card.getByTestId('bottleneck').getAttribute('data-verdict'), { timeout: 10_000 })
      .not.toBe('unknown');
    await shot('transfers-running', 'light');
    await shot('transfers-running', 'dark');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await shot('transfers-running-1920x1080', 'light');
    await page.setViewportSize({ width: 1280, height: 800 });

    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
    expect(await card.getByTestId('run-result').textContent()).toMatch(
      /The backup finished\.\s*fileserver: backed up, [\d.]+ MiB/,
    );
    expect(await card.getByTestId('progress-text').textContent()).toBe('100.0 %');
    await shot('transfers-finished', 'light');

    // The point shows on Backups, the VM is protected on the Dashboard, and Hosts says when it was backed up.
    await go('Backups');
    await expect
      .poll(() => page.getByRole('table', { name: 'Backups of fileserver on Local disk' }).textContent())
      .toMatch(/full \(XVA\)/);
    await go('Dashboard');
    await expect.poll(() => page.getByTestId('protected-count').textContent()).toBe('1');
    await expect.poll(() => page.getByTestId('excluded-count').textContent()).toBe('1');
    await expect
      .poll(() => page.getByRole('table', { name: 'Runs this session' }).textContent())
      .toMatch(/Backup of fileserver\s*done/);
    await go('Hosts');
    await expect
      .poll(() => page.getByRole('row', { name: 'fileserver' }).getByTestId('last-backup').textContent())
      .toMatch(/full · just now/);
  });

  it('cancel mid-run: asks first, shows the cleanup, ends as cancelled', async () => {
    const card = await backUpNow('erp-db', 'Local disk', '3');
    await expect
      .poll(async () => (await card.getByTestId('bytes-done').textContent()) !== '0 B', { timeout: 20_000 })
      .toBe(true);
    await card.getByRole('button', { name: 'Cancel backup' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel this backup?' });
    // The safe choice has the focus; Escape keeps the run going.
    await page.keyboard.press('Escape');
    await expect.poll(() => confirm.isVisible()).toBe(false);
    expect(await card.getAttribute('data-state')).toBe('running');
    await card.getByRole('button', { name: 'Cancel backup' }).click();
    await confirm.getByRole('button', { name: 'Cancel the backup' }).click();
    // The cleanup is shown as it happens (until the engine says the run ended)...
    const phases: string[] = [];
    await expect
      .poll(
        async () => {
          phases.push((await card.getAttribute('data-state')) ?? '');
          return phases.at(-1);
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBe('cancelled');
    expect(phases[0]).toMatch(/cancelling|cancelled/);
    expect(await card.getByTestId('run-result').textContent()).toMatch(
      /The backup was cancelled\.\s*erp-db: .*cancelled/,
    );
    expect(await card.getByRole('list', { name: 'Log of Backup of erp-db' }).textContent()).toMatch(
      /Removing the backup snapshot from the host/,
    );
    await go('Dashboard');
    await expect
      .poll(() => page.getByRole('region', { name: 'Needs attention' }).textContent())
      .toMatch(/Backup of erp-db was cancelled/);
  });

  it.skipIf(!fuse.ok)(
    'a destination that stalls: the graph and the words show it, and the run still finishes',
    async () => {
      const backing = makeTempDir('sluice-backing-');
      const mnt = makeTempDir('sluice-mnt-');
      temps.push(backing.cleanup, mnt.cleanup);
      const mount: ThrottledMount = await mountThrottled({
        backingDir: backing.dir,
        mountPoint: path.join(mnt.dir, 'nas'),
        rateBytesPerSec: 0,
      });
      try {
        await go('Remotes');
        await page.getByLabel('Name').fill('Slow NAS');
        await page.getByLabel('Folder').fill(mount.mountPoint);
        await page.getByRole('button', { name: 'Add remote' }).click();
        await expect.poll(() => page.getByRole('row', { name: 'Slow NAS' }).count()).toBe(1);

        const card = await backUpNow('dc01 (Windows Server 2022)', 'Slow NAS', '8');
        await expect
          .poll(async () => (await card.getByTestId('bytes-done').textContent()) !== '0 B', { timeout: 20_000 })
          .toBe(true);
        await mount.stall(-1);
        const bottleneck = card.getByTestId('bottleneck');
        await expect.poll(() => bottleneck.getAttribute('data-stalled'), { timeout: 20_000 }).toBe('destination');
        expect(await bottleneck.textContent()).toMatch(
          /destination is the bottleneck: it has accepted nothing for \d+ s/i,
        );
        expect(await card.getByTestId('destination-rate').textContent()).toBe('0 B/s');
        // The host keeps sending into the spool: the buffered bytes grow while nothing is written.
        const buffered = async () => card.getByTestId('buffered').textContent();
        const b1 = await buffered();
        await page.waitForTimeout(1200);
        expect(await buffered()).not.toBe(b1);
        await go('Dashboard');
        await expect
          .poll(() => page.getByRole('region', { name: 'Needs attention' }).textContent())
          .toMatch(/accepted nothing/);
        await go('Transfers');
        await shot('transfers-destination-stalled', 'light');
        await shot('transfers-destination-stalled', 'dark');
        await mount.unstall();
        await expect
          .poll(
            () =>
              page.getByRole('article', { name: 'Backup of dc01 (Windows Server 2022)' }).getAttribute('data-state'),
            { timeout: 60_000 },
          )
          .toBe('done');
      } finally {
        await mount.unmount();
      }
    },
  );

  it('saves a screenshot of each main view, light and dark, at 1280x800', async () => {
    for (const b of await page.getByRole('button', { name: /^Dismiss: / }).all()) await b.click();
    for (const view of ['Dashboard', 'Hosts', 'Transfers', 'Jobs', 'Backups', 'Remotes', 'Settings']) {
      await go(view);
      await page.waitForTimeout(300);
      for (const theme of ['light', 'dark'] as const) await shot(`view-${view.toLowerCase()}`, theme);
    }
  });

  it('settings: spool, cap, speed limit, notifications; bad input said in words; the theme switches', async () => {
    await go('Settings');
    await page.getByLabel('Spool size limit (GiB)').fill('lots');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(() => page.getByRole('main').getByRole('alert').textContent())
      .toMatch(/"lots" is not a valid spool size\.Enter a number of GiB/);
    await page.getByLabel('Spool size limit (GiB)').fill('2');
    await page.getByLabel('Default speed limit (MiB/s)').fill('250');
    await page.getByLabel('Notify when a backup succeeds').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved.' }).count()).toBe(1);
    await page.reload();
    await expect.poll(() => page.getByLabel('Default speed limit (MiB/s)').inputValue()).toBe('250');
    expect(await page.getByLabel('Spool size limit (GiB)').inputValue()).toBe('2');
    expect(await page.getByLabel('Notify when a backup succeeds').isChecked()).toBe(true);
    await page.getByLabel('Dark').check();
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark');
    await page.getByLabel('Light').check();
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('light');
  });

  it('a changed certificate is a warning with both fingerprints, approved only on purpose', async () => {
    await go('Hosts');
    await page.getByRole('button', { name: 'Remove pool Small shop' }).click();
    await page
      .getByRole('dialog', { name: 'Remove the pool Small shop?' })
      .getByRole('button', { name: 'Remove pool' })
      .click();
    await expect.poll(() => page.getByRole('region', { name: 'Pool Small shop' }).count()).toBe(0);
    const { fingerprint: rotated } = (await control('/rotate-certificate', {})) as { fingerprint: string };
    expect(rotated).not.toBe(demo.fingerprint);

    await page.getByLabel('Pool address').fill(demo.url);
    await page.getByLabel('Username').fill(demo.user);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Connect' }).click();
    const warning = page.getByRole('dialog', { name: 'Certificate changed' });
    await expect.poll(() => warning.count()).toBe(1);
    expect(await warning.getByTestId('known-fingerprint').textContent()).toBe(demo.fingerprint);
    expect(await warning.getByTestId('probe-fingerprint').textContent()).toBe(rotated);
    expect(await warning.textContent()).toMatch(/has changed/);
    await shot('hosts-certificate-changed', 'light');
    await shot('hosts-certificate-changed', 'dark');
    await warning.getByRole('button', { name: 'Approve the new certificate and add pool' }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Pool Small shop' }).textContent(), { timeout: 15_000 })
      .toContain(rotated);
    expect(consoleErrors).toEqual([]);
  });
});
