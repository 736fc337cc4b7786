import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { addDemoPool, addFolderRemote, type DemoPool, demoPoolOf, goTo, openSluicePage } from '../helpers/ui-page.js';

// Issue #15, in Chromium against `sluice serve --demo`: a backup whose host is held to 4 MiB/s (the simulator's
// rate-limit fault) is named host-bound on its card, the verdict holds rather than flips, the spool is never
// said to absorb anything while it holds 0 B; the graph's ticks are round (whole seconds, binary units); and a
// page reload keeps the finished run on Transfers, read back from the run history.

let serve: ServeProcess;
let browser: Browser;
let page: Page;
let demo: DemoPool;
let remoteDir: string;
const temps: Array<() => void> = [];

async function control(pathname: string, method: string, body?: unknown): Promise<void> {
  const res = await fetch(`${demo.control}${pathname}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`control ${method} ${pathname}: ${res.status} ${await res.text()}`);
}

interface CardView {
  state: string;
  verdict: string;
  bottleneck: string;
  spool: string;
  ticksTime: string[];
  ticksRate: string[];
  ticksBuffered: string[];
}

const readCard = () =>
  page.evaluate(`(() => {
    const card = document.querySelector('article[aria-label="Backup of mail"]');
    if (!card) return null;
    const stat = [...card.querySelectorAll('.stat')].find((s) => s.querySelector('dt').textContent === 'Spool (disk)');
    const graph = card.querySelector('[data-testid=transfer-graph]');
    const ticks = (k) => (graph.dataset[k] ? graph.dataset[k].split('|') : []);
    return {
      state: card.dataset.state,
      verdict: card.querySelector('[data-testid=bottleneck]').dataset.verdict,
      bottleneck: card.querySelector('[data-testid=bottleneck] span').textContent,
      spool: stat.querySelector('.num').textContent,
      ticksTime: ticks('ticksTime'),
      ticksRate: ticks('ticksRate'),
      ticksBuffered: ticks('ticksBuffered'),
    };
  })()`) as Promise<CardView | null>;

/** A byte tick is a whole or quarter number of a binary unit: "0 B", "512 KiB", "1.5 MiB/s", "1.25 GiB". */
function roundBinary(label: string): boolean {
  const m = /^(\d+(?:\.\d{1,2})?) (B|KiB|MiB|GiB|TiB)(\/s)?$/.exec(label);
  return !!m && (Number(m[1]) * 4) % 1 === 0;
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  const data = makeTempDir();
  const remote = makeTempDir('sluice-remote-');
  temps.push(data.cleanup, remote.cleanup);
  remoteDir = remote.dir;
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual']);
  demo = demoPoolOf(serve);
  browser = await launchChromium();
  page = await openSluicePage(browser, serve, { width: 1280, height: 800 });
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('what Transfers shows is true (issue #15, Chromium, sluice serve --demo)', () => {
  it('a host held to 4 MiB/s: the card names the host, holds its verdict, and the graph ticks are round', async () => {
    await addDemoPool(page, demo);
    await addFolderRemote(page, 'Local disk', remoteDir);
    await control('/faults', 'POST', 'rate-limit=4M');
    await goTo(page, 'Hosts');
    await page.getByRole('button', { name: 'Back up mail now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up mail now' });
    await dialog.getByLabel('Remote').selectOption({ label: 'Local disk' });
    await dialog.getByRole('radio', { name: /^Full \(/ }).check();
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');

    const seen: CardView[] = [];
    for (;;) {
      const view = await readCard();
      if (view) seen.push(view);
      if (view?.state !== 'running' && seen.length > 0) break;
      await page.waitForTimeout(250);
    }
    await control('/faults', 'DELETE');
    const transferring = seen.filter((v) => v.state === 'running' && v.verdict !== 'unknown');
    expect(transferring.length).toBeGreaterThan(8);
    expect(new Set(transferring.map((v) => v.bottleneck))).toEqual(
      new Set(['The host is the bottleneck: the destination takes everything at once and waits for more data.']),
    );
    expect(seen.filter((v) => v.spool === '0 B' && /spool/i.test(v.bottleneck))).toEqual([]);

    const drawn = seen.filter((v) => v.ticksTime.length > 0);
    expect(drawn.length).toBeGreaterThan(0);
    for (const v of drawn) {
      expect(new Set(v.ticksTime).size, v.ticksTime.join(' ')).toBe(v.ticksTime.length);
      expect([...v.ticksRate, ...v.ticksBuffered].filter((l) => !roundBinary(l))).toEqual([]);
    }
    expect(drawn.some((v) => v.ticksRate.some((l) => /MiB\/s$/.test(l)))).toBe(true);
  });

  it('a page reload keeps the finished run on Transfers, read back from the run history', async () => {
    await page.reload();
    await page.getByText('Engine connected').waitFor();
    await goTo(page, 'Transfers');
    const card = page.getByRole('region', { name: 'Finished' }).getByRole('article', { name: 'Backup of mail' });
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.getAttribute('data-state')).toBe('done');
    expect(await card.getByTestId('run-state').textContent()).toBe('Finished');
    await expect
      .poll(async () => Number(await card.getByTestId('transfer-graph').getAttribute('data-points')))
      .toBeGreaterThan(2);
    expect(await page.getByText(/No transfer/).count()).toBe(0);
  });
});
