import { randomUUID } from 'node:crypto';
import type { RemoteSummary, S3RemoteInput } from '../../src-shared/contract/remotes.js';
import { SluiceError } from '../errors/sluice-error.js';
import { checkRemoteLocation, openExistingRemote } from '../remotes/remote-registry.js';
import type { Remote } from '../remotes/remote.js';
import { forgetS3Clients, type S3CredentialSource } from '../remotes/s3-remote.js';
import { formatS3Location, parseS3Location } from '../remotes/s3-location.js';
import type { RemoteSetting } from '../settings/settings-schema.js';
import type { EngineContext } from './engine-context.js';

/** What the contract shows of a saved remote: everything but where its secret lives. */
export function remoteSummary(r: RemoteSetting): RemoteSummary {
  const flags = { ...(r.encrypted ? { encrypted: true } : {}) };
  if (r.kind === 'folder')
    return {
      id: r.id,
      name: r.name,
      kind: 'folder',
      path: r.path,
      ...flags,
      ...(r.useVhdDirectory ? { useVhdDirectory: true } : {}),
    };
  return {
    id: r.id,
    name: r.name,
    kind: 's3',
    path: r.path,
    ...(r.endpoint !== undefined ? { endpoint: r.endpoint } : {}),
    bucket: r.bucket,
    prefix: r.prefix,
    region: r.region,
    pathStyle: r.pathStyle,
    accessKeyId: r.accessKeyId,
    ...flags,
  };
}

/**
 * A saved S3 remote from the form's fields: its location in the one canonical form (checked by the same rule
 * as a CLI --remote), its secret key stored under `remote:<id>`, never in the settings.
 */
export async function newS3RemoteSetting(
  ctx: EngineContext,
  name: string,
  input: S3RemoteInput,
): Promise<RemoteSetting> {
  const id = randomUUID();
  const prefix = (input.prefix ?? '').replace(/^\/+|\/+$/g, '');
  const draft = formatS3Location({
    bucket: input.bucket,
    prefix,
    endpoint: input.endpoint || undefined,
    region: input.region || 'us-east-1',
    pathStyle: input.pathStyle ?? Boolean(input.endpoint),
  });
  let loc;
  try {
    loc = parseS3Location(draft);
  } catch (err) {
    // The same words, at the form's fields' level.
    if (err instanceof SluiceError)
      throw new SluiceError('VALIDATION', err.message, {
        hint: err.hint,
        issues: [{ path: 's3', message: err.message }],
      });
    throw err;
  }
  const secretId = `remote:${id}`;
  await ctx.secrets.set(secretId, input.secretAccessKey);
  return {
    id,
    name,
    kind: 's3',
    path: formatS3Location(loc),
    ...(loc.endpoint !== undefined ? { endpoint: loc.endpoint } : {}),
    bucket: loc.bucket,
    prefix: loc.prefix,
    region: loc.region,
    pathStyle: loc.pathStyle,
    accessKeyId: input.accessKeyId,
    secretId,
  };
}

export function newFolderRemoteSetting(name: string, dir: string, useVhdDirectory = false): RemoteSetting {
  // The rule the CLI's --remote follows too: a job never writes relative to wherever the engine started.
  checkRemoteLocation(dir);
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(dir))
    throw new SluiceError('VALIDATION', `"${dir}" is not a folder path.`, {
      hint: 'Add an S3 remote with its own fields (bucket, endpoint, keys), so its secret key is kept in the secret store.',
      issues: [{ path: 'path', message: 'Enter a folder path' }],
    });
  return { id: randomUUID(), name, kind: 'folder', path: dir, ...(useVhdDirectory ? { useVhdDirectory: true } : {}) };
}

/** After a remote is removed from the settings: its secret and its clients go too. */
export async function forgetRemote(ctx: EngineContext, r: RemoteSetting): Promise<void> {
  if (r.kind !== 's3') return;
  await ctx.secrets.delete(r.secretId);
  forgetS3Clients(r.path);
}

/** The keys of the saved S3 remote at a location, read from the settings and the secret store when needed. */
export function savedRemoteKeys(ctx: EngineContext): S3CredentialSource {
  return async (location) => {
    const r = ctx.settings.get().remotes.find((x) => x.kind === 's3' && x.path === location);
    if (r?.kind !== 's3') return undefined;
    const secretAccessKey = await ctx.secrets.get(r.secretId);
    return secretAccessKey ? { accessKeyId: r.accessKeyId, secretAccessKey } : undefined;
  };
}

/** A saved remote, proven there (a folder: present; S3: the bucket answers to its keys). */
export function openSavedRemote(r: RemoteSetting): Promise<Remote> {
  return openExistingRemote(r.path);
}
