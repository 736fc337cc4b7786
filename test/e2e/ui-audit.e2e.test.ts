import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { FOCUS_STATE, OVERFLOWS, UNNAMED_CONTROLS, type FocusState } from '../helpers/ui-audit.js';

// The probes ui-quality.e2e.test.ts relies on, against a page with known faults: they must name each fault
// (and stay quiet on the good controls), or a passing UI check would prove nothing.
let browser: Browser;
let page: Page;
beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 800, height: 600 } });
});
afterAll(async () => {
  await browser?.close();
});

const PAGE = `<!doctype html><style>
  body { margin: 0 } main { display: block; width: 600px; overflow: auto }
  .no-ring:focus { outline: none } .cut { width: 40px; overflow: hidden; white-space: nowrap }
</style>
<nav class="sidebar"><a href="#x">Named link</a></nav>
<main>
  <button>Save</button> <button aria-label="Close panel">×</button> <button title="Refresh"></button>
  <label>Spool size <input id="good-1"></label> <label for="good-2">Remote</label><select id="good-2"><option>a</option></select>
  <input placeholder="Search VMs">
  <button id="bad-1"></button>
  <label><select id="bad-2"><option>only an option</option></select></label>
  <div role="button" tabindex="0" id="bad-3"></div>
  <a href="#y" id="bad-4"><span></span></a>
  <div class="cut">a long text that does not fit</div>
  <div style="position: relative; left: 700px; width: 200px" id="too-wide">past the edge</div>
  <button class="no-ring" id="no-ring">No ring</button>
  <details><summary>More</summary><button id="hidden-in-details"></button></details>
  <dialog><button id="hidden-in-dialog"></button></dialog>
  <button style="display: none" id="not-rendered"></button>
</main>`;

describe('the UI audit probes find what they look for', () => {
  it('lists every control without an accessible name, and only those', async () => {
    await page.setContent(PAGE);
    const unnamed = (await page.evaluate(UNNAMED_CONTROLS)) as string[];
    expect(unnamed.map((u) => /id="([^"]+)"/.exec(u)?.[1]).sort()).toEqual(['bad-1', 'bad-2', 'bad-3', 'bad-4']);
  });

  it('reports sideways overflow and text cut off without an ellipsis', async () => {
    await page.setContent(PAGE);
    const overflow = (await page.evaluate(OVERFLOWS)) as string[];
    expect(overflow.some((o) => /main area scrolls sideways/.test(o))).toBe(true);
    expect(overflow.some((o) => /past the edge.*past the visible edge/.test(o))).toBe(true);
    expect(overflow.some((o) => /a long text.*cuts its text off/.test(o))).toBe(true);
    await page.setContent(
      '<main><p>fits</p><div style="width: 40px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis">a long text, shown with an ellipsis</div></main>',
    );
    expect(await page.evaluate(OVERFLOWS)).toEqual([]);
  });

  it('tells a visible focus from an invisible one', async () => {
    await page.setContent(PAGE);
    await page.focus('#good-1');
    expect(((await page.evaluate(FOCUS_STATE)) as FocusState).visible).toBe(true);
    await page.focus('#no-ring');
    expect((await page.evaluate(FOCUS_STATE)) as FocusState).toMatchObject({
      tag: 'button',
      visible: false,
      interactive: true,
      inMain: true,
    });
  });
});
