import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { ServeProcess } from './serve-process.js';

/** The demo pool `sluice serve --demo` prints: where it is and how to log in. */
export interface DemoPool {
  url: string;
  user: string;
  password: string;
  fingerprint: string;
  /** The simulator's control API, for fault injection. */
  control: string | undefined;
}

export function demoPoolOf(serve: ServeProcess): DemoPool {
  const m = /Demo pool "Small shop" at (\S+) \(user (\S+), password (\S+), certificate (\S+)\)/.exec(serve.output());
  if (!m) throw new Error(`sluice serve --demo printed no demo pool:\n${serve.output()}`);
  const c = /Demo pool control API at (\S+)/.exec(serve.output());
  return { url: m[1]!, user: m[2]!, password: m[3]!, fingerprint: m[4]!, control: c?.[1] };
}

/** Opens a main view through the navigation, as the admin does, and waits for its heading. */
export async function goTo(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(name);
}

/** Adds the demo pool on Hosts (approving its fingerprint) and waits for its inventory tree. */
export async function addDemoPool(page: Page, demo: DemoPool): Promise<void> {
  await goTo(page, 'Hosts');
  await page.getByLabel('Pool address').fill(demo.url);
  await page.getByLabel('Username').fill(demo.user);
  await page.getByLabel('Password').fill(demo.password);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('button', { name: 'Approve and add pool' }).click();
  await expect
    .poll(() => page.getByRole('region', { name: 'Pool Small shop' }).getByRole('row', { name: 'mail' }).count(), {
      timeout: 15_000,
    })
    .toBe(1);
}

/** Adds a folder remote on Remotes and waits for its row. */
export async function addFolderRemote(page: Page, name: string, folder: string): Promise<void> {
  await goTo(page, 'Remotes');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Folder').fill(folder);
  await page.getByRole('button', { name: 'Add remote' }).click();
  await expect.poll(() => page.getByRole('row', { name }).count()).toBe(1);
}

/**
 * A page on `sluice serve`'s UI, connected to its engine. Console errors go to `consoleErrors` when given (the
 * tests assert there are none).
 */
export async function openSluicePage(
  browser: Browser,
  serve: ServeProcess,
  viewport: { width: number; height: number },
  consoleErrors?: string[],
): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(15_000);
  if (consoleErrors) page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  await page.goto(serve.url);
  await page.getByText('Engine connected').waitFor();
  return page;
}
