import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// One Ceph RADOS Gateway for every S3 suite of a test run (a cold start is 15-20 s of the suite's time):
// started by the first file that needs it (test/servers/ceph-s3.sh start is idempotent), stopped once at the
// end of the run by vitest's global teardown (test/helpers/global-teardown.ts). Each test makes its own bucket,
// so files never see each other's objects. Test files run one at a time here (vitest's default on 2 cores);
// a suite that pauses or kills the gateway takes one of its own (withCephS3({ own: true })).

const run = promisify(execFile);
export const CEPH_SCRIPT = path.resolve(import.meta.dirname, '../servers/ceph-s3.sh');

/** The shared gateway's state folder: one per checkout, so two clones' runs never share a gateway. */
export function sharedCephDir(): string {
  const id = createHash('sha256')
    .update(path.resolve(import.meta.dirname, '..', '..'))
    .digest('hex')
    .slice(0, 12);
  return path.join(os.tmpdir(), `sluice-ceph-shared-${id}`);
}

/** Stops the shared gateway (if this run started one) and removes its folder. */
export async function stopSharedCeph(): Promise<void> {
  const dir = sharedCephDir();
  if (!existsSync(dir)) return;
  await run(CEPH_SCRIPT, ['stop', dir], { timeout: 60_000 }).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
