import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readExactly, writeExactly } from '../../src-main/core/random-access-file.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { openExistingRemote, openRemote } from '../../src-main/remotes/remote-registry.js';
import type { Remote } from '../../src-main/remotes/remote.js';
import { PART_SIZE } from '../../src-main/remotes/s3-upload.js';
import { FileSink } from '../../src-main/transfer/file-sink.js';
import { withCephS3 } from '../helpers/ceph-s3.js';

const s3 = withCephS3();
const MiB = 1024 * 1024;

function remoteOn(bucket: string, prefix?: string): Remote {
  return openRemote(s3.location(bucket, prefix), { credentials: s3.credentials });
}

async function failure(p: Promise<unknown>): Promise<SluiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

async function objectText(bucket: string, key: string): Promise<string> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString();
}

describe('S3 remote on a real Ceph RADOS Gateway', () => {
  it('is there when its bucket is; a missing bucket, a wrong secret and an unknown key id are refused in words', async () => {
    const bucket = await s3.bucket();
    const remote = await openExistingRemote(s3.location(bucket), { credentials: s3.credentials });
    expect(await remote.stat('')).toMatchObject({ kind: 'folder' });
    expect(remote.capabilities).toEqual({ rename: false, inPlaceUpdate: false });

    const missing = await failure(
      openExistingRemote(s3.location('no-such-bucket-here'), { credentials: s3.credentials }),
    );
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain('the bucket does not exist');
    expect(missing.message).toContain('s3://no-such-bucket-here');
    expect(missing.hint).toMatch(/never creates a bucket/);

    const wrongSecret = await failure(
      openExistingRemote(s3.location(bucket), {
        credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) },
      }),
    );
    expect(wrongSecret.code).toBe('UNAUTHORIZED');
    expect(wrongSecret.message).toContain('SignatureDoesNotMatch');
    expect(wrongSecret.hint).toMatch(/secret access key/);
    expect(wrongSecret.context.remote).toBe(s3.location(bucket));
    expect(JSON.stringify(wrongSecret.context) + wrongSecret.message).not.toContain(s3.credentials.secretAccessKey);

    const unknownKey = await failure(
      openExistingRemote(s3.location(bucket), {
        credentials: { accessKeyId: 'NOSUCHKEY0000000000', secretAccessKey: s3.credentials.secretAccessKey },
      }),
    );
    expect(unknownKey.code).toBe('UNAUTHORIZED');
    expect(unknownKey.message).toContain('InvalidAccessKeyId');
  });

  it('says an endpoint that nothing answers on cannot be reached', async () => {
    const remote = openRemote('s3://some-bucket?endpoint=http://127.0.0.1:9', { credentials: s3.credentials });
    const err = await failure(remote.stat(''));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expect(err.hint).toMatch(/endpoint URL/);
  }, 60_000);

  it('writes new objects only if absent, overwrites on request, and stats absent keys as absent', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket, 'repo/one');
    await remote.writeNew('xo-vm-backups/vm1/a.json', '{"first":true}');
    expect(await objectText(bucket, 'repo/one/xo-vm-backups/vm1/a.json')).toBe('{"first":true}');
    const again = await failure(remote.writeNew('xo-vm-backups/vm1/a.json', '{"second":true}'));
    expect(again.code).toBe('CONFLICT');
    expect(again.message).toContain('s3://' + bucket + '/repo/one/xo-vm-backups/vm1/a.json');
    expect(again.message).toContain('already exists');
    expect(await remote.read('xo-vm-backups/vm1/a.json')).toEqual(Buffer.from('{"first":true}'));

    await remote.overwrite('xo-vm-backups/vm1/a.json', 'replaced');
    expect((await remote.read('xo-vm-backups/vm1/a.json')).toString()).toBe('replaced');

    expect(await remote.stat('xo-vm-backups/vm1/absent.json')).toBeUndefined();
    expect(await remote.readIfExists('xo-vm-backups/vm1/absent.json')).toBeUndefined();
    expect((await failure(remote.read('xo-vm-backups/vm1/absent.json'))).code).toBe('NOT_FOUND');
    expect(await remote.stat('xo-vm-backups/vm1/a.json')).toMatchObject({ kind: 'file', size: 8 });
    expect(await remote.stat('xo-vm-backups/vm1')).toMatchObject({ kind: 'folder' });
    expect(await remote.stat('xo-vm-backups/vm')).toBeUndefined();
    expect(remote.displayPath('xo-vm-backups/vm1/a.json')).toBe(`s3://${bucket}/repo/one/xo-vm-backups/vm1/a.json`);

    const big = await failure(remote.read('xo-vm-backups/vm1/a.json', { maxBytes: 4 }));
    expect(big.message).toContain('more than the 4');

    await remote.delete('xo-vm-backups/vm1/a.json');
    await remote.delete('xo-vm-backups/vm1/a.json');
    expect(await remote.stat('xo-vm-backups/vm1/a.json')).toBeUndefined();
    expect((await s3.leftovers(bucket)).keys).toEqual([]);
  });

  it('reads ranges, streams and positional reads of an object', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket);
    const data = randomBytes(3 * MiB + 123);
    await remote.writeNew('f.bin', data);
    expect(await remote.readRange('f.bin', 1000, 5000)).toEqual(data.subarray(1000, 6000));
    expect(await remote.readRange('f.bin', data.length - 10, 100)).toEqual(data.subarray(data.length - 10));
    expect((await remote.readRange('f.bin', data.length, 100)).length).toBe(0);
    const chunks: Buffer[] = [];
    for await (const c of await remote.createReadStream('f.bin', { start: 10, end: 2 * MiB })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(data.subarray(10, 2 * MiB + 1));
    const file = await remote.openRead('f.bin');
    expect(await file.size()).toBe(data.length);
    expect(await readExactly(file, 2 * MiB, 512)).toEqual(data.subarray(2 * MiB, 2 * MiB + 512));
    await expect(file.write(Buffer.alloc(1), 0, 1, 0)).rejects.toThrow(/opened for reading/);
    expect((await failure(remote.openRead('nope.bin'))).code).toBe('NOT_FOUND');
  });

  it('lists the direct children of a prefix across more than 1000 keys (pages of a delimiter listing)', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket, 'p');
    const names = Array.from({ length: 1050 }, (_, i) => `k${String(i).padStart(4, '0')}.json`);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(names.slice(i, i + 50).map((n) => remote.writeNew(`top/${n}`, n)));
    await remote.writeNew('top/sub/deep/x', 'x');
    await remote.writeNew('top/sub2/y', 'y');
    await remote.writeNew('topper', 'not under top/');
    // A console's "folder" marker is no file.
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'p/top/', Body: Buffer.alloc(0) }));
    const entries = await remote.list('top');
    expect(entries.filter((e) => e.kind === 'file').map((e) => e.name)).toEqual(names);
    expect(entries.filter((e) => e.kind === 'folder').map((e) => e.name)).toEqual(['sub', 'sub2']);
    expect((await remote.list('')).map((e) => `${e.kind}:${e.name}`).sort()).toEqual(['file:topper', 'folder:top']);
    expect(await remote.list('absent')).toEqual([]);
  }, 180_000);

  it('refuses keys that lead outside the repository, touching nothing', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket, 'repo');
    for (const key of ['../escape', 'a/../../escape', '/abs', 'a//b', 'C:/x', 'a\\..\\b']) {
      const err = await failure(remote.writeNew(key, 'x'));
      expect(err.message).toContain('leads outside the repository');
      expect(err.damage?.kind).toBe('path');
      await expect(remote.read(key)).rejects.toThrow(/outside the repository/);
      await expect(remote.delete(key)).rejects.toThrow(/outside the repository/);
      await expect(remote.beginNew(key)).rejects.toThrow(/outside the repository/);
    }
    await expect(remote.list('..')).rejects.toThrow(/outside the repository/);
    expect(await s3.leftovers(bucket)).toEqual({ keys: [], uploads: [] });
  });

  it('streams a large new file as a multipart upload that appears only when placed, byte for byte', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket);
    const data = randomBytes(2 * PART_SIZE + 5 * MiB + 7);
    const upload = await remote.beginNew('big/x.xva');
    const sink = new FileSink(upload.file, upload.file.name, { hash: 'sha256' });
    // Two writes in flight, as the transfer pipeline keeps them.
    const inFlight = new Set<Promise<void>>();
    for (let at = 0; at < data.length; at += MiB) {
      const p = sink.write(data.subarray(at, Math.min(data.length, at + MiB))).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= sink.maxInFlight) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await sink.settle();
    let validated = -1;
    await upload.seal(async (file) => {
      validated = await file.size();
    });
    expect(validated).toBe(data.length);
    // Sealed is not visible.
    expect(await remote.stat('big/x.xva')).toBeUndefined();
    expect((await s3.leftovers(bucket)).uploads).toEqual(['big/x.xva']);
    await upload.place();
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/x.xva' }));
    expect(head.ContentLength).toBe(data.length);
    expect(head.ETag).toMatch(/-3"$/);
    const back = await remote.read('big/x.xva');
    expect(createHash('sha256').update(back).digest('hex')).toBe(sink.digestHex());
    expect(back.equals(data)).toBe(true);
    expect((await s3.leftovers(bucket)).uploads).toEqual([]);
    await upload.abort(); // after place: nothing to do, nothing removed
    expect(await remote.stat('big/x.xva')).toMatchObject({ size: data.length });
  }, 120_000);

  it('refuses an out-of-order write loudly, and an aborted upload leaves nothing behind', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket, 'r');
    const upload = await remote.beginNew('vm/x.xva');
    await writeExactly(upload.file, randomBytes(PART_SIZE + MiB), 0);
    await expect(upload.file.write(Buffer.alloc(10), 0, 10, 5)).rejects.toThrow(
      /arrived where byte 9437184 was next: an S3 upload takes its bytes in order only/,
    );
    await writeExactly(upload.file, randomBytes(PART_SIZE), PART_SIZE + MiB);
    expect((await s3.leftovers(bucket, 'r/')).uploads).toEqual(['r/vm/x.xva']);
    await upload.abort();
    await upload.abort();
    expect(await s3.leftovers(bucket)).toEqual({ keys: [], uploads: [] });
    await expect(upload.file.write(Buffer.alloc(1), 0, 1, 2 * PART_SIZE + MiB)).rejects.toThrow(/aborted/);
  });

  it('starts over when emptied (a retried export), and never replaces an existing object on place', async () => {
    const bucket = await s3.bucket();
    const remote = remoteOn(bucket);
    const upload = await remote.beginNew('x.xva');
    await writeExactly(upload.file, randomBytes(PART_SIZE + 3), 0);
    await upload.file.truncate(0);
    const second = randomBytes(PART_SIZE + 11);
    await writeExactly(upload.file, second, 0);
    await upload.commit();
    expect((await remote.read('x.xva')).equals(second)).toBe(true);
    await expect(upload.file.truncate(5)).rejects.toThrow(/only be emptied/);

    const small = await remote.beginNew('x.xva');
    await writeExactly(small.file, Buffer.from('small'), 0);
    expect((await failure(small.commit())).code).toBe('CONFLICT');
    const large = await remote.beginNew('x.xva');
    await writeExactly(large.file, randomBytes(PART_SIZE + 1), 0);
    const refused = await failure(large.commit());
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toContain('already exists');
    await large.abort();
    expect((await remote.read('x.xva')).equals(second)).toBe(true);
    expect(await s3.leftovers(bucket)).toEqual({ keys: ['x.xva'], uploads: [] });
  }, 120_000);
});
