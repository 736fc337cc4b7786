import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { RandomAccessFile } from '../core/random-access-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Remote, RemoteEntry, RemoteStat, RemoteUpload } from './remote.js';
import { keySegments } from './remote-key.js';
import { describeS3Error, isNotFound, s3CodeOf, s3StatusOf } from './s3-errors.js';
import { formatS3Location, isS3Location, parseS3Location, type S3Location } from './s3-location.js';
import { S3Upload } from './s3-upload.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The keys for a location opened without any: the ecosystem's convention (the AWS CLI, rclone, s3cmd all read
 * them), so `sluice --remote s3://…` works as those tools do.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Credentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/**
 * An S3-compatible bucket (AWS, Ceph RGW, MinIO, Wasabi, B2) as a remote: keys live under the location's
 * prefix; no rename and no in-place change (capabilities false), so the merge and the delta layout's temp
 * names are not for it; new files are multipart uploads completed by `place` (see s3-upload.ts); small ones
 * one conditional PUT (If-None-Match: *), which the server refuses when the key exists.
 */
export class S3Remote implements Remote {
  readonly capabilities = { rename: false, inPlaceUpdate: false };
  readonly label: string;

  constructor(
    readonly location: S3Location,
    readonly client: S3Client,
  ) {
    this.label = formatS3Location(location);
  }

  get bucket(): string {
    return this.location.bucket;
  }

  displayPath(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key, { allowTop: true })}`;
  }

  /** The object key of a repository key: confined by name (remote-key.ts), then under the prefix. */
  objectKey(key: string, opts: { allowTop?: boolean } = {}): string {
    const segments = keySegments(key, this.label, opts);
    return [...(this.location.prefix ? [this.location.prefix] : []), ...segments].join('/');
  }

  /** The listing prefix of a folder key: '' at the top of a bucket without prefix, else ending in '/'. */
  private folderPrefix(prefix: string): string {
    const k = this.objectKey(prefix, { allowTop: true });
    return k === '' ? '' : `${k}/`;
  }

  async list(prefix: string): Promise<RemoteEntry[]> {
    const p = this.folderPrefix(prefix);
    const out: RemoteEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: p, Delimiter: '/', ContinuationToken: token }))
        .catch((err: unknown) => {
          throw describeS3Error(err, this.label, 'list', this.displayPath(prefix));
        });
      for (const cp of page.CommonPrefixes ?? []) {
        const name = cp.Prefix!.slice(p.length, -1);
        if (name !== '') out.push({ name, kind: 'folder' });
      }
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(p.length);
        // `folder/` marker objects some tools make (the console's "Create folder") are not files.
        if (name !== '') out.push({ name, kind: 'file' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async stat(key: string): Promise<RemoteStat | undefined> {
    if (key === '') {
      // The top: the bucket is there and these keys may use it. A one-key listing, not HeadBucket, since
      // HEAD answers carry no error code, and a wrong secret must say so.
      await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.folderPrefix('') }))
        .catch((err: unknown) => {
          throw describeS3Error(err, this.label, 'use', this.label);
        });
      return { kind: 'folder', size: 0, mtimeMs: 0 };
    }
    const objectKey = this.objectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { kind: 'file', size: head.ContentLength ?? 0, mtimeMs: head.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (!isNotFound(err)) throw describeS3Error(err, this.label, 'read', this.displayPath(key));
    }
    // No object: a "folder" is a prefix with something under it.
    const page = await this.client
      .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${objectKey}/`, MaxKeys: 1 }))
      .catch((err: unknown) => {
        throw describeS3Error(err, this.label, 'list', this.displayPath(key));
      });
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0 ? { kind: 'folder', size: 0, mtimeMs: 0 } : undefined;
  }

  async read(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const data = await this.readIfExists(key, opts);
    if (data === undefined)
      throw new SluiceError('NOT_FOUND', `Could not read ${this.displayPath(key)}: there is no such object.`, {
        hint: 'The repository is missing a file: run check on it.',
        context: { remote: this.label },
      });
    return data;
  }

  async readIfExists(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer | undefined> {
    const objectKey = this.objectKey(key);
    const what = this.displayPath(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      const size = out.ContentLength ?? 0;
      const body = out.Body as Readable;
      if (opts.maxBytes !== undefined && size > opts.maxBytes) {
        body.destroy();
        throw new SluiceError(
          'REMOTE_ERROR',
          `${what} is ${size} bytes, more than the ${opts.maxBytes} such a file can hold.`,
          {
            hint: 'The file is damaged or was not written by a backup tool; move it out of the repository and run check.',
            context: { remote: this.label },
            damage: { kind: 'size', file: what },
          },
        );
      }
      return await readAll(body);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw describeS3Error(err, this.label, 'read', what);
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const what = this.displayPath(key);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Range: `bytes=${offset}-${offset + length - 1}`,
        }),
      );
      return await readAll(out.Body as Readable);
    } catch (err) {
      // A range that starts at or past the end: the file simply has no bytes there.
      if (s3CodeOf(err) === 'InvalidRange' || s3StatusOf(err) === 416) return Buffer.alloc(0);
      throw describeS3Error(err, this.label, 'read', what);
    }
  }

  async createReadStream(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const what = this.displayPath(key);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      return out.Body as Readable;
    } catch (err) {
      throw describeS3Error(err, this.label, 'read', what);
    }
  }

  async openRead(key: string): Promise<RandomAccessFile> {
    const st = await this.stat(key);
    if (st?.kind !== 'file')
      throw new SluiceError('NOT_FOUND', `Could not read ${this.displayPath(key)}: there is no such object.`, {
        hint: 'The repository is missing a file: run check on it.',
        context: { remote: this.label },
      });
    const name = this.displayPath(key);
    const refuse = (what: string) => async () => {
      throw new SluiceError('INTERNAL', `${name} was opened for reading: cannot ${what} it.`, {
        context: { remote: this.label },
      });
    };
    return {
      name,
      size: async () => st.size,
      read: async (buffer, offset, length, position) => {
        const got = await this.readRange(key, position, Math.min(length, Math.max(0, st.size - position)));
        got.copy(buffer, offset);
        return got.length;
      },
      write: refuse('write'),
      truncate: refuse('truncate'),
      sync: async () => {},
      datasync: async () => {},
      close: async () => {},
    };
  }

  async writeNew(key: string, data: Buffer | string): Promise<void> {
    const what = this.displayPath(key);
    await this.client
      .send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: Buffer.from(data),
          IfNoneMatch: '*',
        }),
      )
      .catch((err: unknown) => {
        throw describeS3Error(err, this.label, 'write', what);
      });
  }

  async beginNew(key: string): Promise<RemoteUpload> {
    return new S3Upload(key, {
      client: this.client,
      bucket: this.bucket,
      objectKey: this.objectKey(key),
      remoteLabel: this.label,
      display: this.displayPath(key),
    });
  }

  /** A plain PUT: S3 replaces an object whole, so a reader sees the old one or the new one. */
  async overwrite(key: string, data: Buffer | string): Promise<void> {
    const what = this.displayPath(key);
    await this.client
      .send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: Buffer.from(data) }))
      .catch((err: unknown) => {
        throw describeS3Error(err, this.label, 'write', what);
      });
  }

  async openUpdate(key: string): Promise<RandomAccessFile> {
    throw this.cannot('change objects in place', key);
  }

  async rename(from: string): Promise<void> {
    throw this.cannot('rename objects', from);
  }

  async delete(key: string): Promise<void> {
    const what = this.displayPath(key);
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
      .catch((err: unknown) => {
        if (isNotFound(err)) return;
        throw describeS3Error(err, this.label, 'delete', what);
      });
  }

  /** A prefix with nothing under it does not exist: nothing to remove. */
  async removeEmptyFolder(prefix: string): Promise<void> {
    keySegments(prefix, this.label);
  }

  /** Buckets have no capacity an S3 client can ask for. */
  async freeSpace(): Promise<undefined> {
    return undefined;
  }

  /** A completed PUT or multipart upload is durable when it is acknowledged. */
  async syncFolder(prefix: string): Promise<void> {
    keySegments(prefix, this.label, { allowTop: true });
  }

  async abortUnfinishedUploads(prefix: string): Promise<string[]> {
    const p = this.folderPrefix(prefix);
    const aborted: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client
        .send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: p,
            Delimiter: '/',
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        )
        .catch((err: unknown) => {
          throw describeS3Error(err, this.label, 'list the unfinished uploads of', this.displayPath(prefix));
        });
      for (const u of page.Uploads ?? []) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key!, UploadId: u.UploadId! }))
          .catch((err: unknown) => {
            if ((err as { name?: string }).name === 'NoSuchUpload') return;
            throw describeS3Error(err, this.label, 'abort the unfinished upload of', `s3://${this.bucket}/${u.Key}`);
          });
        aborted.push(`s3://${this.bucket}/${u.Key}`);
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    return aborted;
  }

  private cannot(what: string, key: string): SluiceError {
    return new SluiceError('REMOTE_ERROR', `S3 cannot ${what} (${this.displayPath(key)}).`, {
      hint: 'This operation needs a folder remote; on S3 Sluice writes every object once.',
      context: { remote: this.label },
    });
  }
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * One client per endpoint and key pair, shared by every remote opened on them: the repository opens its remote
 * many times over a run, and each client keeps its own pool of connections.
 */
const clients = new Map<string, S3Client>();

function keyedClientId(loc: S3Location, credentials: S3Credentials): string {
  return JSON.stringify([
    loc.endpoint,
    loc.region,
    loc.pathStyle,
    credentials.accessKeyId,
    credentials.secretAccessKey,
  ]);
}

export function s3ClientFor(
  loc: S3Location,
  credentials: S3Credentials | (() => Promise<S3Credentials>),
  savedAs?: string,
): S3Client {
  const id = typeof credentials === 'function' ? `saved ${savedAs}` : keyedClientId(loc, credentials);
  let client = clients.get(id);
  if (!client) {
    // The SDK warns on every Node below 22 that versions published after January 2027 will need it; the
    // version Sluice pins supports Node 20 (package.json's engines), and a warning in the middle of a backup's
    // output is nothing an admin can act on. An explicit setting of the variable is left as it is.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    client = new S3Client({
      region: loc.region,
      ...(loc.endpoint !== undefined ? { endpoint: loc.endpoint } : {}),
      forcePathStyle: loc.pathStyle,
      credentials,
      // The SDK's default CRC32 trailers need aws-chunked uploads, which Ceph 16 and other gateways refuse
      // (411 on a stream body); checksums only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A request that gets no byte for 2 minutes is retried (the SDK's own backoff, 5 attempts): a gateway that
      // pauses for half a minute is waited for, not failed.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      maxAttempts: 5,
    });
    clients.set(id, client);
  }
  return client;
}

/** What a kind's `open` may be given besides the location. */
export interface S3OpenOptions {
  credentials?: S3Credentials;
}

/**
 * The keys of saved S3 remotes, by location: the engine sets this to read them from its settings (access key
 * id) and secret store (secret key), so that every place that opens a remote by its location (a job's plan,
 * the Backups view, a restore) opens a saved S3 remote with its own keys without carrying them around. The
 * keys are fetched when a request needs them, never held in settings or messages.
 */
export type S3CredentialSource = (location: string) => Promise<S3Credentials | undefined>;
let credentialSource: S3CredentialSource | undefined;

/** Sets (or, with undefined, clears) the source of saved remotes' keys; returns the one it replaces. */
export function setS3CredentialSource(source: S3CredentialSource | undefined): S3CredentialSource | undefined {
  const before = credentialSource;
  credentialSource = source;
  return before;
}

/**
 * Drops the client of a location opened with these very keys (the Remotes form's, proven once before the remote
 * is saved): afterwards the saved remote is opened with its keys from the secret store, and a refused key must
 * not stay in the engine's memory with a client of its own.
 */
export function forgetS3ClientOf(location: string, credentials: S3Credentials): void {
  const loc = parseS3Location(location);
  const id = keyedClientId(loc, credentials);
  clients.get(id)?.destroy();
  clients.delete(id);
}

/** Drops the clients of a location (its keys changed or the remote was removed). */
export function forgetS3Clients(location: string): void {
  clients.get(`saved ${location}`)?.destroy();
  clients.delete(`saved ${location}`);
}

function noKeys(label: string): SluiceError {
  return new SluiceError('VALIDATION', `No keys for the S3 remote ${label}.`, {
    hint: 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (CLI), or save the remote with its keys in the Remotes view.',
    context: { remote: label },
  });
}

export const s3RemoteKind = {
  name: 'an S3 bucket (s3://BUCKET/PREFIX?endpoint=URL)',
  accepts: isS3Location,
  check: (location: string): void => {
    parseS3Location(location);
  },
  open: (location: string, opts: S3OpenOptions = {}): Remote => {
    const loc = parseS3Location(location);
    const label = formatS3Location(loc);
    if (opts.credentials) return new S3Remote(loc, s3ClientFor(loc, opts.credentials));
    const source = credentialSource;
    if (!source) {
      const fromEnv = credentialsFromEnv();
      if (!fromEnv) throw noKeys(label);
      return new S3Remote(loc, s3ClientFor(loc, fromEnv));
    }
    // In the engine: a saved remote's own keys first (the environment of the engine's process must not override
    // them), read when the first request signs (the SDK keeps them for the client); else the environment's.
    const keys = async (): Promise<S3Credentials> => {
      const found = (await source(label)) ?? credentialsFromEnv();
      if (!found) throw noKeys(label);
      return found;
    };
    return new S3Remote(loc, s3ClientFor(loc, keys, label));
  },
};
