import { describe, expect, it } from 'vitest';
import { openRemote } from '../../src-main/remotes/remote-registry.js';
import { S3Remote } from '../../src-main/remotes/s3-remote.js';
import { formatS3Location, parseS3Location } from '../../src-main/remotes/s3-location.js';

describe('S3 locations', () => {
  it('reads bucket, prefix, endpoint, region and addressing, path-style by default with an endpoint', () => {
    expect(parseS3Location('s3://backups/site-a/vms/?endpoint=http://127.0.0.1:7480/')).toEqual({
      bucket: 'backups',
      prefix: 'site-a/vms',
      endpoint: 'http://127.0.0.1:7480',
      region: 'us-east-1',
      pathStyle: true,
    });
    expect(parseS3Location('s3://backups')).toMatchObject({ prefix: '', endpoint: undefined, pathStyle: false });
    expect(parseS3Location('s3://b-1.x?endpoint=https://s3.wasabisys.com&region=eu-central-2&pathStyle=false')).toEqual(
      { bucket: 'b-1.x', prefix: '', endpoint: 'https://s3.wasabisys.com', region: 'eu-central-2', pathStyle: false },
    );
  });

  it('writes a location back in one form that reads the same, without encoding the endpoint', () => {
    for (const l of [
      's3://backups/site-a?endpoint=http://127.0.0.1:7480',
      's3://backups',
      's3://b-1.x?endpoint=https://s3.example.com&region=eu-central-2&pathStyle=false',
      's3://aws-bucket/p?region=eu-west-3&pathStyle=true',
    ])
      expect(formatS3Location(parseS3Location(l))).toBe(l);
  });

  it('refuses what cannot name one place, saying which part is wrong', () => {
    const refused = (l: string, why: RegExp) => expect(() => parseS3Location(l)).toThrow(why);
    refused('s3://Bad_Bucket/x', /"Bad_Bucket" is not a bucket name/);
    refused('s3://', /is not a bucket name/);
    refused('s3://bucket/a/../b', /prefix has an empty, "\." or "\.\." part/);
    refused('s3://bucket/a//b', /prefix has an empty/);
    refused('s3://bucket?endpoint=ftp://x', /is not http or https/);
    refused('s3://bucket?endpoint=nope', /is not a URL/);
    refused('s3://bucket?endpoint=http://key:secret@host', /carries credentials/);
    refused('s3://bucket?pathstyle=true', /unknown option "pathstyle"/);
    refused('s3://bucket?pathStyle=yes', /pathStyle is "yes"/);
  });

  it('opens with the keys given, else the environment, else says where keys come from', () => {
    const given = openRemote('s3://bucket/p?endpoint=http://127.0.0.1:1', {
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
    // Behind the encryption layer, which passes a plain remote through.
    expect(given.inner).toBeInstanceOf(S3Remote);
    expect(given.label).toBe('s3://bucket/p?endpoint=http://127.0.0.1:1');
    expect(given.displayPath('xo-vm-backups/x.json')).toBe('s3://bucket/p/xo-vm-backups/x.json');
    expect(given.capabilities).toEqual({ rename: false, inPlaceUpdate: false });
    const saved = { ...process.env };
    try {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      expect(() => openRemote('s3://bucket')).toThrow(/No keys for the S3 remote s3:\/\/bucket/);
      process.env.AWS_ACCESS_KEY_ID = 'AK';
      process.env.AWS_SECRET_ACCESS_KEY = 'SK';
      expect(openRemote('s3://bucket').inner).toBeInstanceOf(S3Remote);
    } finally {
      process.env = saved;
    }
  });
});
