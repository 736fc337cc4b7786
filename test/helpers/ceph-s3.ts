import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import type { S3Credentials } from '../../src-main/remotes/s3-remote.js';
import { CEPH_SCRIPT, sharedCephDir } from './ceph-s3-shared.js';

const run = promisify(execFile);
const SCRIPT = CEPH_SCRIPT;

/** What the recipe prints once the gateway answers. */
interface GatewayInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
}

export interface CephS3Suite {
  readonly endpoint: string;
  readonly credentials: S3Credentials;
  /** An admin client of the gateway (path-style, checksums only when required), for setting up and checking. */
  readonly client: S3Client;
  /** The state folder of the gateway (its PID files under run/). */
  readonly dir: string;
  /** A new empty bucket, named uniquely. */
  bucket(): Promise<string>;
  /** `s3://BUCKET/PREFIX?endpoint=…` of a bucket of this gateway. */
  location(bucket: string, prefix?: string): string;
  /** Every key under a prefix of a bucket (all pages), and the multipart uploads in progress there. */
  leftovers(bucket: string, prefix?: string): Promise<{ keys: string[]; uploads: string[] }>;
  /** The environment the CLI takes an S3 remote's keys from. */
  env(): Record<string, string>;
  /** Starts the gateway's daemons again (after a test killed one), same endpoint, keys and data. */
  restart(): Promise<void>;
}

/**
 * A real Ceph RADOS Gateway for a test file (test/servers/ceph-s3.sh, the project's copy of the recipe; without
 * ceph-mgr, which S3 does not need): the run's shared one (ceph-s3-shared.ts), or with `own` one of the file's
 * own, started in a temp folder before its tests (15-20 s) and stopped after them, its folder removed (for a
 * suite that pauses or kills the gateway).
 */
export function withCephS3(opts: { own?: boolean } = {}): CephS3Suite {
  let info: GatewayInfo | undefined;
  let client: S3Client | undefined;
  let dir: string | undefined;
  const start = (d: string) =>
    run(SCRIPT, ['start', d], { env: { ...process.env, CEPH_S3_MGR: '0', CEPH_S3_BLOCK_GB: '20' }, timeout: 180_000 });
  beforeAll(async () => {
    dir = opts.own ? mkdtempSync(path.join(os.tmpdir(), 'sluice-ceph-')) : sharedCephDir();
    const { stdout } = await start(dir);
    info = JSON.parse(stdout.trim().split('\n').pop()!) as GatewayInfo;
    // As the S3 remote does: the SDK's notice about future Node versions is noise in the tests' output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    client = new S3Client({
      endpoint: info.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }, 240_000);
  afterAll(async () => {
    client?.destroy();
    if (dir && opts.own) {
      await run(SCRIPT, ['stop', dir], { timeout: 60_000 }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('withCephS3: the gateway is not up yet (read it inside a hook or a test)');
    return v;
  };
  return {
    get endpoint() {
      return ready(info).endpoint;
    },
    get credentials() {
      const i = ready(info);
      return { accessKeyId: i.accessKeyId, secretAccessKey: i.secretAccessKey };
    },
    get client() {
      return ready(client);
    },
    get dir() {
      return ready(dir);
    },
    async bucket() {
      const name = `t-${randomBytes(5).toString('hex')}`;
      await ready(client).send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    location(bucket, prefix) {
      return `s3://${bucket}${prefix ? `/${prefix}` : ''}?endpoint=${ready(info).endpoint}`;
    },
    async leftovers(bucket, prefix = '') {
      const c = ready(client);
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await c.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      const uploads = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return { keys, uploads: (uploads.Uploads ?? []).map((u) => u.Key!) };
    },
    env() {
      const i = ready(info);
      return { AWS_ACCESS_KEY_ID: i.accessKeyId, AWS_SECRET_ACCESS_KEY: i.secretAccessKey };
    },
    async restart() {
      await start(ready(dir));
    },
  };
}
