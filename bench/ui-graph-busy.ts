// How busy live transfers keep the UI's main thread: the built renderer in Debian's Chromium, connected to a
// real engine (browser mode: the real WebSocket server, event bus and dispatcher), shows the Transfers view while
// N simulated transfers each send a backup.progress sample 4 times a second. Prints the renderer main thread's
// busy fraction (CDP Performance.getMetrics TaskDuration / wall time) and its long tasks, for 1 transfer (the
// reference) and for 10 in parallel, and the ratio.
// Run: npm run build:renderer && npx tsx bench/ui-graph-busy.ts [--seconds 10] [--transfers 10]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import type { TransferProgress } from '../src-shared/contract/transfers.js';
import { createNodeEngine } from '../src-main/engine/engine-node.js';
import { startBrowserServer } from '../src-main/server/browser-server.js';
import { launchChromium } from '../test/helpers/chromium.js';
import { ROOT } from '../test/helpers/serve-process.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, transfers: { type: 'string', default: '10' } },
});
const SECONDS = Number(values.seconds);
const PARALLEL = Number(values.transfers);
const MiB = 1024 * 1024;
const SAMPLE_MS = 250; // 4 updates a second per transfer, as the engine's ProgressSampler sends them

const staticDir = path.join(ROOT, 'dist-renderer');
if (!existsSync(path.join(staticDir, 'index.html'))) throw new Error('Build the UI first: npm run build:renderer');

const data = makeTempDir('sluice-bench-ui-');
const engine = createNodeEngine({ dataDir: data.dir, transport: 'websocket' });
const server = await startBrowserServer({ dispatcher: engine.dispatcher, bus: engine.ctx.bus, staticDir, port: 0 });
const browser = await launchChromium();

/** N transfers with plausible, moving numbers: a source near 80 MiB/s, a slower destination, the spool filling. */
function drive(count: number, tag: string): () => void {
  const timers: NodeJS.Timeout[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const runId = `${tag}-${i}`;
    let read = 0;
    let written = 0;
    const tick = () => {
      const t = (performance.now() - started) / 1000;
      const sourceRate = (80 + 10 * Math.sin(t + i)) * MiB;
      const destinationRate = (60 + 20 * Math.sin(t / 2 + i)) * MiB;
      read += (sourceRate * SAMPLE_MS) / 1000;
      written = Math.min(read, written + (destinationRate * SAMPLE_MS) / 1000);
      const buffered = read - written;
      const p: TransferProgress = {
        runId,
        vm: {
          uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          name: `vm-${String(i + 1).padStart(2, '0')}`,
        },
        disk: { uuid: `disk-${i}`, name: `vm-${i + 1} disk 0` },
        phase: 'transfer',
        attempt: 1,
        bytesRead: Math.round(read),
        bytesWritten: Math.round(written),
        totalBytes: 64 * 1024 * MiB,
        sourceRate,
        destinationRate,
        memoryBytes: Math.min(buffered, 64 * MiB),
        spoolBytes: Math.max(0, buffered - 64 * MiB),
        spoolCapBytes: 4096 * MiB,
        bottleneck: buffered > 8 * MiB ? 'destination' : 'balanced',
        etaSeconds: null,
        elapsedMs: Math.round(t * 1000),
        at: new Date().toISOString(),
      };
      engine.ctx.bus.emit('backup.progress', p);
    };
    // Staggered, as independent transfers are.
    timers.push(setTimeout(() => timers.push(setInterval(tick, SAMPLE_MS)), (i * SAMPLE_MS) / count));
  }
  return () => timers.forEach((t) => clearInterval(t));
}

interface Measure {
  busy: number;
  layoutShare: number;
  styleShare: number;
  scriptShare: number;
  longTasks: number;
  longestTaskMs: number;
  graphPoints: number;
}

async function measure(page: Page, count: number, tag: string): Promise<Measure> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const stop = drive(count, tag);
  // Let the cards and graphs appear before measuring the steady state.
  if (count > 0)
    await page
      .locator('[data-testid="transfer-graph"] canvas')
      .nth(count - 1)
      .waitFor({ timeout: 20_000 });
  await page.waitForTimeout(1000);
  await page.evaluate(
    `window.__longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longTasks.push(e.duration); }).observe({ type: 'longtask' });`,
  );
  const metrics = async () =>
    Object.fromEntries(
      ((await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> }).metrics.map(
        (m) => [m.name, m.value],
      ),
    );
  const a = await metrics();
  const t0 = performance.now();
  await page.waitForTimeout(SECONDS * 1000);
  const b = await metrics();
  const wall = (performance.now() - t0) / 1000;
  stop();
  const longTasks = (await page.evaluate('window.__longTasks')) as number[];
  const graphPoints =
    count > 0 ? Number(await page.locator('[data-testid="transfer-graph"]').first().getAttribute('data-points')) : 0;
  await cdp.detach();
  const task = b.TaskDuration! - a.TaskDuration!;
  return {
    busy: task / wall,
    scriptShare: (b.ScriptDuration! - a.ScriptDuration!) / Math.max(task, 1e-9),
    layoutShare: (b.LayoutDuration! - a.LayoutDuration!) / Math.max(task, 1e-9),
    styleShare: (b.RecalcStyleDuration! - a.RecalcStyleDuration!) / Math.max(task, 1e-9),
    longTasks: longTasks.length,
    longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
    graphPoints,
  };
}

async function session(count: number, tag: string): Promise<Measure> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.url}#/transfers`);
  await page.getByText('Engine connected').waitFor();
  const m = await measure(page, count, tag);
  await page.close();
  return m;
}

const pct = (f: number) => `${(f * 100).toFixed(1)} %`;
const line = (label: string, m: Measure) =>
  `  ${label}: busy ${pct(m.busy)} of the main thread (script ${pct(m.scriptShare)}, style ${pct(m.styleShare)}, layout ${pct(m.layoutShare)} of that; the rest is paint and compositing), long tasks ${m.longTasks} (longest ${m.longestTaskMs.toFixed(0)} ms), graph points ${m.graphPoints}`;
try {
  console.log(
    `Renderer main thread while the Transfers view shows live transfers (4 samples/s each, ${SECONDS} s measured, 1280x800, headless Chromium):`,
  );
  const idle = await session(0, 'idle');
  console.log(line('no transfer (idle page)', idle));
  const one = await session(1, 'ref');
  console.log(line('1 transfer (reference)', one));
  const many = await session(PARALLEL, 'par');
  console.log(line(`${PARALLEL} transfers`, many));
  console.log(
    `  ratio ${PARALLEL} / 1: ${(many.busy / Math.max(one.busy, 1e-9)).toFixed(2)}x; ${pct(1 - many.busy)} of the main thread stays free for input (target: ≥ 50 % free, no long task ≥ 200 ms)`,
  );
  console.log(`  ${many.busy <= 0.5 && many.longestTaskMs < 200 ? 'OK' : 'OVER TARGET'}`);
} finally {
  await browser.close();
  await server.close();
  await engine.close();
  data.cleanup();
}
