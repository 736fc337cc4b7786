import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCephS3 } from '../helpers/ceph-s3.js';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { OVERFLOWS, UNNAMED_CONTROLS } from '../helpers/ui-audit.js';
import { addDemoPool, type DemoPool, demoPoolOf, goTo } from '../helpers/ui-page.js';

// Adding an S3 remote in the Remotes view (Chromium, `sluice serve --demo`) against a real Ceph RADOS Gateway:
// refusals said at their field or in the engine's words (an empty bucket, a wrong secret key, a missing bucket),
// nothing saved until the keys and the bucket answer; Test (write speed, free space unknown); a full "Back up
// now" to it, seen in the Backups view and in the bucket under the prefix; an encrypted one (XO's
// encryption.json in the bucket). The secret key goes to the engine once per submit and never comes back: in
// no IPC response or event, in no file of the data folder, not in the page once sent, not in the server's
// output.
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const PREFIX = 'sluice/site-a';
const s3 = withCephS3();
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const temps: Array<() => void> = [];
let demo: DemoPool;
let dataDir: string;
let bucket: string;
const consoleErrors: string[] = [];
/** Every WebSocket frame of the page, each way: what the engine sent back (results, events) and what it was sent. */
const received: string[] = [];
const sent: string[] = [];

async function shot(name: string, theme: 'light' | 'dark') {
  await page.evaluate(
    `document.documentElement.dataset.theme = '${theme}'; window.dispatchEvent(new CustomEvent('sluice-theme'));`,
  );
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`), fullPage: false });
}

/** A field of the add form by the start of its label (a label also holds its help and its refusal). */
const field = (label: string) => page.getByLabel(new RegExp(`^${label}`));

/** The S3 part of the add form, filled as an admin does (the secret key typed each time: the form forgets it). */
async function fillS3(values: { bucket: string; secret: string }) {
  await field('Name').fill('Offsite');
  await field('Kind').selectOption({ label: 'S3-compatible object storage (AWS, Backblaze B2, Wasabi, MinIO, Ceph)' });
  await field('Endpoint URL').fill(s3.endpoint);
  await field('Bucket').fill(values.bucket);
  await field('Prefix').fill(PREFIX);
  await field('Access key id').fill(s3.credentials.accessKeyId);
  await field('Secret access key').fill(values.secret);
}

function dataFolderFiles(): string[] {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist-renderer', 'index.html')))
    throw new Error('Build the UI first: npm run build:renderer (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const data = makeTempDir();
  temps.push(data.cleanup);
  dataDir = data.dir;
  bucket = await s3.bucket();
  // No AWS_* keys in the engine's environment: the saved remote's own keys must be what it uses.
  serve = await startServeProcess(['--port', '0', '--data-dir', data.dir, '--demo', '--demo-manual'], {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
  });
  demo = demoPoolOf(serve);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => received.push(String(f.payload)));
    ws.on('framesent', (f) => sent.push(String(f.payload)));
  });
  await page.goto(serve.url);
  await page.getByText('Engine connected').waitFor();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  temps.forEach((c) => c());
});

describe('an S3 remote in the Remotes view (Chromium, sluice serve --demo, Ceph RADOS Gateway)', () => {
  it('refuses an empty bucket at its field, a wrong secret key and a missing bucket in words, saving nothing', async () => {
    await goTo(page, 'Remotes');
    await fillS3({ bucket: '', secret: s3.credentials.secretAccessKey });
    // Path-style addressing is on by default once an endpoint is given (Ceph needs it).
    expect(await page.getByRole('checkbox', { name: /^Path-style addressing/ }).isChecked()).toBe(true);
    expect(await field('Region').inputValue()).toBe('us-east-1');
    expect(await field('Secret access key').getAttribute('type')).toBe('password');
    expect((await page.evaluate(UNNAMED_CONTROLS)) as string[]).toEqual([]);
    expect((await page.evaluate(OVERFLOWS)) as string[]).toEqual([]);
    await shot('remotes-s3-form', 'light');
    await shot('remotes-s3-form', 'dark');
    const add = page.getByRole('button', { name: 'Add remote' });
    await add.click();
    await expect.poll(() => page.getByTestId('issue-s3-bucket').textContent()).toBe('Enter the bucket');
    expect(await field('Bucket').getAttribute('aria-invalid')).toBe('true');
    // Sent, then forgotten: the field is empty, and the page holds the key nowhere.
    expect(await field('Secret access key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(s3.credentials.secretAccessKey);
    // A corrected field loses its error at once.
    await field('Bucket').fill(bucket);
    expect(await page.getByTestId('issue-s3-bucket').count()).toBe(0);

    const wrongSecret = 'wrong/' + 'x'.repeat(34);
    await field('Secret access key').fill(wrongSecret);
    await add.click();
    const alert = page.getByRole('alert');
    await expect
      .poll(() => alert.allTextContents(), { timeout: 30_000 })
      .toContainEqual(expect.stringMatching(/the S3 server refused the secret key \(SignatureDoesNotMatch\)/));
    expect((await alert.allTextContents()).join(' ')).toMatch(/Check the secret access key/);
    expect(await page.getByRole('row', { name: 'Offsite' }).count()).toBe(0);
    expect(await field('Secret access key').inputValue()).toBe('');
    await shot('remotes-s3-refused', 'light');
    await shot('remotes-s3-refused', 'dark');

    await field('Bucket').fill('no-such-bucket-here');
    await field('Secret access key').fill(s3.credentials.secretAccessKey);
    await add.click();
    await expect
      .poll(() => alert.allTextContents(), { timeout: 30_000 })
      .toContainEqual(expect.stringMatching(/the bucket does not exist/));
    expect((await alert.allTextContents()).join(' ')).toMatch(/Sluice never creates a bucket/);
    expect(await page.getByRole('row', { name: 'Offsite' }).count()).toBe(0);
    // The engine kept none of them.
    const settings = dataFolderFiles().find((f) => f.endsWith('.json') && readFileSync(f, 'utf8').includes('remotes'));
    if (settings) expect(readFileSync(settings, 'utf8')).not.toContain('no-such-bucket-here');
    expect(await page.getByText('No remote yet.').count()).toBe(1);
  }, 90_000);

  it('adds it with the right keys: the list shows its s3:// location and kind, never a key', async () => {
    await field('Bucket').fill(bucket);
    await field('Secret access key').fill(s3.credentials.secretAccessKey);
    await page.getByRole('button', { name: 'Add remote' }).click();
    const row = page.getByRole('row', { name: 'Offsite' });
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
    const location = `s3://${bucket}/${PREFIX}?endpoint=${s3.endpoint}`;
    expect(await row.locator('td').nth(1).locator('.mono').textContent()).toBe(location);
    expect(await row.getByTestId('remote-kind').textContent()).toBe(
      `S3 object storage, access key id ${s3.credentials.accessKeyId}`,
    );
    await expect.poll(() => row.textContent()).toMatch(/0 points of 0 VMs/);
    expect(await row.textContent()).toContain('unknown (object storage)');
    // The form is back to its start: a folder, nothing of the S3 remote left in it.
    expect(await field('Kind').inputValue()).toBe('folder');
    expect(await field('Secret access key').count()).toBe(0);
  });

  it('tests it: the keys and the bucket accepted, a write speed, free space unknown; nothing left in the bucket', async () => {
    await page.getByRole('button', { name: 'Test remote Offsite' }).click();
    const result = page.getByRole('status', { name: 'Test of Offsite' });
    await expect
      .poll(() => result.textContent(), { timeout: 60_000 })
      .toMatch(/^Offsite is writable\. Its keys and bucket were accepted\. /);
    expect(await result.getByTestId('free-space').textContent()).toBe('Free space: unknown (object storage)');
    expect(await result.getByTestId('write-speed').textContent()).toMatch(/^[\d.]+ [KMGT]?i?B\/s$/);
    expect(await s3.leftovers(bucket)).toEqual({ keys: [], uploads: [] });
    await shot('remotes-s3-list', 'light');
    await shot('remotes-s3-list', 'dark');
  }, 90_000);

  it('backs a VM up to it in full mode: the point in the Backups view, its objects under the prefix', async () => {
    await addDemoPool(page, demo);
    await page.getByRole('button', { name: 'Back up mail now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up mail now' });
    await dialog.getByLabel('Remote').selectOption({ label: 'Offsite' });
    expect(await dialog.getByText(`s3://${bucket}/${PREFIX}`, { exact: false }).count()).toBe(1);
    await dialog.getByRole('radio', { name: /^Full \(/ }).check();
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transfers');
    const card = page.getByRole('article', { name: 'Backup of mail' }).first();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 90_000 }).toBe('done');
    expect(await card.getByTestId('run-result').textContent()).toMatch(/The backup finished\.\s*mail: backed up/);

    await goTo(page, 'Backups');
    const points = page.getByRole('table', { name: 'Backups of mail on Offsite' });
    await expect.poll(() => points.textContent(), { timeout: 15_000 }).toMatch(/full \(XVA\)/);
    await shot('backups-s3', 'light');
    await shot('backups-s3', 'dark');

    // In the bucket, as Xen Orchestra lays it out, under the prefix and nowhere else; no upload left open.
    const all = await s3.leftovers(bucket);
    expect(all.uploads).toEqual([]);
    expect(all.keys.every((k) => k.startsWith(`${PREFIX}/`))).toBe(true);
    const vmFolder = new RegExp(`^${PREFIX}/xo-vm-backups/[0-9a-f-]{36}/`);
    const xva = all.keys.filter((k) => vmFolder.test(k) && k.endsWith('.xva'));
    expect(xva).toHaveLength(1);
    expect(all.keys).toContain(xva[0]!.replace(/\.xva$/, '.json'));

    await goTo(page, 'Remotes');
    const row = page.getByRole('row', { name: 'Offsite' });
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toMatch(/1 point of 1 VM/);
    expect(await row.textContent()).toContain('unknown (object storage)');
  }, 180_000);

  it('adds an encrypted S3 remote: the key written down first, the bucket then holds encryption.json under the prefix', async () => {
    await goTo(page, 'Remotes');
    await fillS3({ bucket, secret: s3.credentials.secretAccessKey });
    await field('Name').fill('Offsite sealed');
    await field('Prefix').fill('sealed');
    await page.getByLabel(/Encrypt this remote/).check();
    await page.getByRole('button', { name: 'Generate a key' }).click();
    const key = await page.getByLabel(/Encryption key/).inputValue();
    await page.getByLabel('I have written the key down').check();
    await page.getByRole('button', { name: 'Add remote' }).click();
    const row = page.getByRole('row', { name: /Offsite sealed/ });
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
    expect(await row.getByText('encrypted').count()).toBe(1);
    expect(await row.textContent()).toContain(`s3://${bucket}/sealed?endpoint=${s3.endpoint}`);
    const sealed = await s3.leftovers(bucket, 'sealed/');
    expect(sealed.keys.sort()).toEqual(['sealed/encryption.json', 'sealed/metadata.json']);
    for (const f of dataFolderFiles()) expect(readFileSync(f).includes(Buffer.from(key)), f).toBe(false);
    expect(received.filter((f) => f.includes(key))).toEqual([]);
  }, 60_000);

  it('the secret key is in no IPC response, no file of the data folder, not the page and not the log', async () => {
    const secret = s3.credentials.secretAccessKey;
    // The capture works: the key went to the engine in the remotes.add requests (and in nothing else).
    const withSecret = sent.filter((f) => f.includes(secret));
    expect(withSecret.length).toBeGreaterThanOrEqual(2);
    expect(withSecret.every((f) => (JSON.parse(f) as { channel?: string }).channel === 'remotes.add')).toBe(true);
    expect(received.length).toBeGreaterThan(10);
    expect(received.filter((f) => f.includes(secret))).toEqual([]);
    // The refusals came back through this capture too, in words.
    expect(received.some((f) => f.includes('SignatureDoesNotMatch'))).toBe(true);
    const files = dataFolderFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(f).includes(Buffer.from(secret)), f).toBe(false);
    expect(await page.content()).not.toContain(secret);
    expect(serve.output()).not.toContain(secret);
    expect(consoleErrors).toEqual([]);
  });
});
