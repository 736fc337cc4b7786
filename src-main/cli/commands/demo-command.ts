import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFullBackup } from '../../backup/full-backup.js';
import { resolveVms } from '../../backup/vm-selection.js';
import { listBackupPoints, verifyFullPoint } from '../../repository/index.js';
import { openExistingRemote } from '../../remotes/remote-registry.js';
import { XapiSession } from '../../xapi/xapi-session.js';
import { parseRecordMap, vmRecordSchema } from '../../xapi/xapi-records.js';
import { parseCommandArgs } from '../command-args.js';
import { formatBytes, formatDuration } from '../../../src-shared/units.js';
import { ProgressRenderer } from '../progress-renderer.js';
import { startDemoPool } from './demo-pool.js';

export const demoHelp = `sluice demo [--remote DIR]

The main job with no set-up: starts the simulated "Small shop" pool, backs up its VMs into a local folder
with progress bars, verifies every point, and lists the repository.

  --remote DIR   an existing folder (full path) to write the backups to (default: a new one in the system temp folder)
`;

export async function demoCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(argv, { remote: { type: 'string' } }, demoHelp);
  if (!values) return 0;
  // A --remote given follows every command's rule (a full path, already there); only the demo's own is made.
  const remoteRoot = values.remote ?? path.join(os.tmpdir(), `sluice-demo-${Date.now()}`);
  if (values.remote) await openExistingRemote(values.remote);
  else await mkdir(remoteRoot);
  const out = new ProgressRenderer();
  out.log('Starting the simulated pool "Small shop"…');
  const sim = await startDemoPool();
  const xapi = await XapiSession.connect({
    url: sim.url,
    username: sim.username,
    password: sim.password,
    trustedFingerprint: sim.fingerprint,
  });
  try {
    out.log(`Pool at ${sim.url} (certificate ${sim.fingerprint}); backups go to ${remoteRoot}`);
    const all = parseRecordMap(vmRecordSchema, await xapi.call('VM.get_all_records'));
    const names = [...all.values()]
      .filter((v) => !v.is_a_template && !v.is_a_snapshot && !v.is_control_domain)
      .map((v) => v.uuid);
    const { selected, skipped } = await resolveVms(xapi, names);
    for (const s of skipped) out.log(`Skipping ${s.name}: ${s.reason}.`);
    const runId = randomUUID();
    for (const vm of selected) {
      const r = await runFullBackup(xapi, vm.ref, {
        runId,
        jobId: 'sluice-demo',
        remoteRoot,
        compression: 'none',
        memoryBufferBytes: 64 * 1024 * 1024,
        spoolDir: os.tmpdir(),
        spoolCapBytes: 1024 ** 3,
        speedLimitBytesPerSec: null,
        log: (level, message) => out.log(`${level === 'info' ? '' : `${level}: `}${message}`),
        onProgress: (p) => out.update(p),
      });
      out.log(`✔ ${vm.name}: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs / 1000)}`);
    }
    out.stop();
    const { points } = await listBackupPoints(remoteRoot);
    for (const p of points) {
      await verifyFullPoint(p);
      process.stdout.write(
        `verified  ${p.vmName.padEnd(32)} ${p.id}  ${p.mode}  ${p.size === undefined ? '' : formatBytes(p.size)}\n`,
      );
    }
    process.stdout.write(
      `\n${points.length} point(s) in ${remoteRoot}. List them again with: npx sluice list --remote ${remoteRoot}\n`,
    );
    return 0;
  } finally {
    out.stop();
    await xapi.close();
    await sim.stop();
  }
}
