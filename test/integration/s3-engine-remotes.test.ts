import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventPayload, ResponseOf } from '../../src-shared/contract/index.js';
import { withCephS3 } from '../helpers/ceph-s3.js';
import { withEngine } from '../helpers/engine.js';

// Saved S3 remotes in the engine, as the Remotes view uses them: added with their keys (the secret key to the
// secret store only), tested (keys, bucket, a probe object, write speed), backed up to with "Back up now".

const env = withEngine();
const s3 = withCephS3();

/** Every file of the engine's data folder, as text: where a leaked secret would be. */
function dataFolderText(): string {
  const dir = env.engine.ctx.dataDir;
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name)).toString('latin1'))
    .join('\n');
}

function s3Input(bucket: string, secretAccessKey = s3.credentials.secretAccessKey, prefix = '/offsite/') {
  return {
    endpoint: s3.endpoint,
    bucket,
    prefix,
    accessKeyId: s3.credentials.accessKeyId,
    secretAccessKey,
  };
}

describe('saved S3 remotes in the engine', () => {
  it('adds an S3 remote whose secret key is only in the secret store, tests it, backs up to it and removes it', async () => {
    const bucket = await s3.bucket();
    const added = await env.call<ResponseOf<'remotes.add'>>('remotes.add', {
      name: 'offsite',
      kind: 's3',
      s3: s3Input(bucket),
    });
    const location = `s3://${bucket}/offsite?endpoint=${s3.endpoint}`;
    expect(added).toEqual({
      id: added.id,
      name: 'offsite',
      kind: 's3',
      path: location,
      endpoint: s3.endpoint,
      bucket,
      prefix: 'offsite',
      region: 'us-east-1',
      pathStyle: true,
      accessKeyId: s3.credentials.accessKeyId,
    });
    const listed = await env.call<ResponseOf<'remotes.list'>>('remotes.list', {});
    expect(listed).toEqual([added]);
    expect(JSON.stringify(listed)).not.toContain(s3.credentials.secretAccessKey);
    expect(dataFolderText()).not.toContain(s3.credentials.secretAccessKey);
    expect(await env.engine.ctx.secrets.get(`remote:${added.id}`)).toBe(s3.credentials.secretAccessKey);

    const test = await env.call<ResponseOf<'remotes.test'>>('remotes.test', { id: added.id });
    expect(test).toMatchObject({ path: location, freeBytes: null, totalBytes: null, testedBytes: 64 * 1024 * 1024 });
    expect(test.writeBytesPerSec).toBeGreaterThan(0);
    expect(await s3.leftovers(bucket)).toEqual({ keys: [], uploads: [] });

    const host = await env.addHost();
    const finished: Array<EventPayload<'backup.finished'>> = [];
    const off = env.engine.ctx.bus.on('backup.finished', (f) => finished.push(f));
    try {
      const { runId } = await env.call<{ runId: string }>('backup.start', {
        hostId: host.id,
        vmUuids: [env.sim.control.vmUuidByName('web01')],
        remoteId: added.id,
        mode: 'full',
      });
      await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 60_000 }).toBeTruthy();
      expect(finished.find((f) => f.runId === runId)).toMatchObject({ ok: true });
    } finally {
      off();
    }
    const points = await env.call<ResponseOf<'backups.list'>>('backups.list', { remoteId: added.id });
    expect(points.points.map((p) => [p.vmName, p.mode])).toEqual([['web01', 'full']]);
    const usage = await env.call<ResponseOf<'remotes.usage'>>('remotes.usage', { id: added.id });
    expect(usage).toMatchObject({ path: location, freeBytes: null, totalBytes: null, points: 1, vms: 1 });
    expect(usage.repositoryBytes).toBeGreaterThanOrEqual(points.points[0]!.size!);
    expect((await s3.leftovers(bucket, 'offsite/')).uploads).toEqual([]);

    expect(await env.call('remotes.remove', { id: added.id })).toEqual({ removed: true });
    expect(await env.engine.ctx.secrets.get(`remote:${added.id}`)).toBeUndefined();
  }, 180_000);

  it('a wrong secret key and a missing bucket are refused at once, in words, and nothing is saved', async () => {
    const bucket = await s3.bucket();
    const before = await env.call<ResponseOf<'remotes.list'>>('remotes.list', {});
    const wrongSecret = 'x'.repeat(40);
    const wrong = await env.engine.dispatcher.dispatch('remotes.add', {
      name: 'wrong key',
      kind: 's3',
      s3: s3Input(bucket, wrongSecret),
    });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    if (!wrong.ok) {
      expect(wrong.error.message).toContain('SignatureDoesNotMatch');
      expect(wrong.error.hint).toMatch(/secret access key/);
    }
    const missing = await env.engine.dispatcher.dispatch('remotes.add', {
      name: 'no bucket',
      kind: 's3',
      s3: s3Input('no-such-bucket-here'),
    });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    if (!missing.ok) expect(missing.error.message).toContain('the bucket does not exist');
    // Neither was saved, and their secret keys left the secret store with them.
    expect(await env.call('remotes.list', {})).toEqual(before);
    expect(dataFolderText()).not.toContain(wrongSecret);
    expect(await s3.leftovers(bucket)).toEqual({ keys: [], uploads: [] });

    const good = await env.call<ResponseOf<'remotes.add'>>('remotes.add', {
      name: 'good',
      kind: 's3',
      s3: s3Input(bucket, undefined, 'good'),
    });
    expect(good.kind).toBe('s3');
    const again = await env.engine.dispatcher.dispatch('remotes.add', {
      name: 'again',
      kind: 's3',
      s3: s3Input(bucket, undefined, 'good'),
    });
    expect(again).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: expect.stringContaining('"good"') },
    });
    const bad = await env.engine.dispatcher.dispatch('remotes.add', {
      name: 'bad',
      kind: 's3',
      s3: { ...s3Input(bucket), bucket: 'Not_A_Bucket' },
    });
    expect(bad).toMatchObject({ ok: false, error: { code: 'VALIDATION', issues: [{ path: 's3' }] } });
  }, 120_000);
});
