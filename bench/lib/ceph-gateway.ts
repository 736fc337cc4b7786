import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './sim-process.js';

const run = promisify(execFile);
/** The project's copy of the recipe, the one the tests start (test/helpers/ceph-s3.ts). */
const SCRIPT = path.join(ROOT, 'test/servers/ceph-s3.sh');

export interface CephGateway {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The gateway's state folder (its bluestore sparse file, logs, PID files). */
  dir: string;
  /** An admin client (path-style, checksums only when required, as RGW 16 needs). */
  client: S3Client;
  /** A new empty bucket, named uniquely. */
  bucket(): Promise<string>;
  /** `s3://BUCKET/PREFIX?endpoint=…`, as `--remote` takes it. */
  location(bucket: string, prefix?: string): string;
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as the CLI and rclone read them. */
  env(): Record<string, string>;
  /** Stops the daemons and removes the state folder. */
  stop(): Promise<void>;
}

/**
 * A real Ceph RADOS Gateway for one benchmark, as the tests start it: without ceph-mgr (S3 does not need it;
 * ~300 MiB RSS less on a 2-core box), bluestore on a sparse file of `blockGiB` (only written bytes use disk).
 */
export async function startCephGateway(opts: { blockGiB: number; parent?: string }): Promise<CephGateway> {
  const dir = mkdtempSync(path.join(opts.parent ?? os.tmpdir(), 'sluice-bench-ceph-'));
  let stdout: string;
  try {
    ({ stdout } = await run(SCRIPT, ['start', dir], {
      env: { ...process.env, CEPH_S3_MGR: '0', CEPH_S3_BLOCK_GB: String(opts.blockGiB) },
      timeout: 240_000,
    }));
  } catch (err) {
    await run(SCRIPT, ['stop', dir], { timeout: 60_000 }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const info = JSON.parse(stdout.trim().split('\n').pop()!) as {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint: info.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    ...info,
    dir,
    client,
    async bucket() {
      const name = `bench-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    location: (bucket, prefix) => `s3://${bucket}${prefix ? `/${prefix}` : ''}?endpoint=${info.endpoint}`,
    env: () => ({ AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey }),
    async stop() {
      client.destroy();
      await run(SCRIPT, ['stop', dir], { timeout: 60_000 }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
