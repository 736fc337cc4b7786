import { describe, expect, it } from 'vitest';
import { remotesChannels } from '../../../src-shared/contract/remotes.js';
import { NO_ENCRYPTION } from '../../../src-renderer/src/features/remotes/encryption-key-state.js';
import {
  addRemoteRequest,
  currentRemoteIssues,
  EMPTY_REMOTE_FORM,
  pathStyleOf,
  placedAtAField,
  withoutSecret,
  type RemoteForm,
} from '../../../src-renderer/src/features/remotes/remote-form-model.js';

const addRequest = remotesChannels['remotes.add'].request;
const KEY = 'A'.repeat(32);
const s3Form: RemoteForm = {
  ...EMPTY_REMOTE_FORM,
  kind: 's3',
  name: 'Offsite',
  endpoint: ' http://127.0.0.1:7480 ',
  bucket: 'backups',
  prefix: 'site-a',
  accessKeyId: 'AK',
  secretAccessKey: 'SECRET',
};

describe('the add-remote form', () => {
  it('sends a folder as its path, with the encryption key only when encryption is on', () => {
    const folder = { ...EMPTY_REMOTE_FORM, name: 'NAS', path: '/mnt/nas' };
    expect(addRemoteRequest(folder, NO_ENCRYPTION)).toEqual({ name: 'NAS', path: '/mnt/nas' });
    const encrypted = addRemoteRequest(folder, { enabled: true, key: KEY, writtenDown: true });
    expect(encrypted).toEqual({ name: 'NAS', path: '/mnt/nas', encryptionKey: KEY });
    expect(addRequest.safeParse(encrypted).success).toBe(true);
  });

  it('sends an S3 remote as its fields, which the contract takes; the region defaults to us-east-1', () => {
    const req = addRemoteRequest(s3Form, { enabled: true, key: KEY, writtenDown: true });
    expect(req).toEqual({
      name: 'Offsite',
      kind: 's3',
      s3: {
        endpoint: 'http://127.0.0.1:7480',
        bucket: 'backups',
        prefix: 'site-a',
        region: 'us-east-1',
        pathStyle: true,
        accessKeyId: 'AK',
        secretAccessKey: 'SECRET',
      },
      encryptionKey: KEY,
    });
    expect(addRequest.safeParse(req).success).toBe(true);
    // No folder path goes with an S3 remote (the contract refuses one).
    expect('path' in req).toBe(false);
  });

  it('path-style addressing follows the endpoint until the admin chooses', () => {
    const aws = { ...s3Form, endpoint: '' };
    expect(pathStyleOf(aws)).toBe(false);
    const req = addRemoteRequest({ ...aws, region: '' }, NO_ENCRYPTION);
    expect(req.s3).toMatchObject({ pathStyle: false, region: 'us-east-1' });
    expect(req.s3 && 'endpoint' in req.s3).toBe(false);
    expect(pathStyleOf(s3Form)).toBe(true);
    expect(pathStyleOf({ ...s3Form, pathStyle: false })).toBe(false);
    expect(pathStyleOf({ ...aws, pathStyle: true })).toBe(true);
  });

  it('forgets the secret once sent', () => {
    expect(withoutSecret(s3Form)).toEqual({ ...s3Form, secretAccessKey: '' });
  });

  it("an engine issue stays at its field only while the field keeps the refused value; others aren't placed", () => {
    const refused = withoutSecret(s3Form);
    const issues = [
      { path: 's3.bucket', message: 'Enter the bucket' },
      { path: 's3.secretAccessKey', message: 'Enter the secret access key' },
      { path: 's3', message: 'not a bucket name' },
      { path: 'encryptionKey', message: 'Exactly 32 characters' },
      { path: 'name', message: 'Give the remote a name' },
    ];
    expect(currentRemoteIssues(issues, refused, refused)).toEqual(issues);
    const typed = { ...refused, secretAccessKey: 'new' };
    expect(currentRemoteIssues(issues, refused, typed).map((i) => i.path)).toEqual([
      's3.bucket',
      's3',
      'encryptionKey',
      'name',
    ]);
    // The location as a whole is re-judged when any of its parts changes.
    expect(currentRemoteIssues(issues, refused, { ...refused, bucket: 'other' }).map((i) => i.path)).toEqual([
      's3.secretAccessKey',
      'encryptionKey',
      'name',
    ]);
    // Another kind: none of the S3 fields' issues hold; the name's does.
    expect(currentRemoteIssues(issues, refused, { ...refused, kind: 'folder' }).map((i) => i.path)).toEqual([
      'encryptionKey',
      'name',
    ]);
    expect(issues.filter(placedAtAField).map((i) => i.path)).toEqual(['s3.bucket', 's3.secretAccessKey', 's3', 'name']);
  });
});
