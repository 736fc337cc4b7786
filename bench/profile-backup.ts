// CPU profile of one full backup (for finding where the client spends its time).
//   npx tsx bench/profile-backup.ts [--size 2G] [--out DIR]
// Writes a .cpuprofile (open in Chrome DevTools) and prints the top self-time functions.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runMeasured } from './lib/process-probe.js';
import { firstVm } from './lib/rpc.js';
import { startSimProcess } from './lib/sim-process.js';
import { writePasswordFile } from '../test/helpers/cli-args.js';
import { fullBackupArgs, SLUICE_BIN } from './lib/sluice-cli.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '2G' }, out: { type: 'string' } } });
const work = mkdtempSync(path.join(os.tmpdir(), 'sluice-prof-'));
const out = values.out ?? path.join(work, 'profile');
const sim = await startSimProcess(['--vms', '1', '--disk-size', values.size!, '--allocated', '1'], { cpu: 0 });
try {
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const pw = writePasswordFile(work, sim.password);
  const run = await runMeasured('taskset', [
    ...['-c', '1', process.execPath, '--max-semi-space-size=1', '--cpu-prof', '--cpu-prof-dir', out, SLUICE_BIN],
    ...fullBackupArgs(sim, pw, vm.name, work),
  ]);
  if (run.code !== 0) throw new Error(run.stderr);
  console.log(`wall ${(run.wallMs / 1000).toFixed(2)} s, peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  const file = readdirSync(out).find((f) => f.endsWith('.cpuprofile'))!;
  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
  const prof = JSON.parse(readFileSync(path.join(out, file), 'utf8')) as { nodes: Node[]; samples: number[] };
  const self = new Map<string, number>();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  for (const id of prof.samples) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anon)'} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = prof.samples.length;
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  console.log(`profile: ${path.join(out, file)}`);
} finally {
  await sim.stop();
  if (!values.out) rmSync(work, { recursive: true, force: true });
}
