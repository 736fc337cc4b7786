import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { RandomAccessFile } from '../core/random-access-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { RemoteUpload } from './remote.js';
import { describeS3Error, isNotFound } from './s3-errors.js';

/**
 * 8 MiB parts: S3 wants at least 5 MiB (but the last) and at most 10,000 parts, so 8 MiB parts take objects up
 * to 78 GiB; a 10 GiB XVA is 1,280 parts. See PART_SIZE_FOR for larger ones.
 */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts uploading at once: two keep the link busy while the next part fills. */
export const PARTS_IN_FLIGHT = 2;
/**
 * The memory an upload holds at most: the part being filled plus the parts in flight (each Buffer stays until
 * the server acknowledged it, so the SDK can resend it). 24 MiB per upload with the defaults; it is on top of the
 * transfer's memory buffer, which keeps accepting the host's bytes (and spills to the spool) while parts wait.
 */
export const UPLOAD_MEMORY_BYTES = PART_SIZE * (1 + PARTS_IN_FLIGHT);

export interface S3Target {
  client: S3Client;
  bucket: string;
  /** The full object key (with the remote's prefix). */
  objectKey: string;
  remoteLabel: string;
  /** For messages: s3://bucket/key. */
  display: string;
}

/**
 * A new object written through positional writes that must arrive in order (the file sink writes sequentially,
 * at most two calls in flight, each accepted in call order): bytes fill an 8 MiB part, full parts go up as a
 * multipart upload, `seal` sends the last part and waits for every part's acknowledgement, `place` completes
 * the upload (the object appears whole, or not at all), `abort` aborts it so nothing is left behind, not even
 * the invisible parts a bucket would otherwise keep (and bill) forever.
 */
export class S3Upload implements RemoteUpload {
  readonly file: RandomAccessFile;
  readonly memoryBytes = UPLOAD_MEMORY_BYTES;
  private accepted = 0;
  private acknowledged = 0;
  private current: Buffer | undefined;
  private filled = 0;
  private uploadId: string | undefined;
  private parts: Array<{ PartNumber: number; ETag: string }> = [];
  private inFlight = new Set<Promise<void>>();
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private state: 'writing' | 'sealed' | 'placed' | 'aborted' = 'writing';
  private spare: Buffer[] = [];
  private partsSent = 0;

  constructor(
    readonly key: string,
    private readonly target: S3Target,
  ) {
    this.file = this.asFile();
  }

  async seal(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    this.mustBe('writing', 'seal');
    await this.drain();
    if (this.uploadId !== undefined && this.filled > 0) this.sendPart();
    await this.settleParts();
    this.state = 'sealed';
    // What validate can check without reading gigabytes back: the bytes every part acknowledgement counted.
    // place() then compares the completed object's size with them, as the server reports it.
    if (validate) await validate(this.file);
  }

  async place(): Promise<void> {
    this.mustBe('sealed', 'place');
    const { client, bucket, objectKey, remoteLabel, display } = this.target;
    try {
      if (this.uploadId === undefined) {
        // Small enough for one part: one conditional PUT, refused (412) if the key exists.
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectKey,
            Body: (this.current ?? Buffer.alloc(0)).subarray(0, this.filled),
            IfNoneMatch: '*',
          }),
        );
      } else {
        // Put-if-absent for a multipart upload: older gateways (Ceph 16) ignore If-None-Match on the
        // completion, so the key is also checked just before. Writers of a VM folder hold its lock.
        if (await exists(client, bucket, objectKey))
          throw new SluiceError('CONFLICT', `Could not write ${display}: an object of that name already exists.`, {
            hint: 'Another writer is using this repository; make sure only one Sluice writes to it. Nothing was replaced.',
            context: { remote: remoteLabel },
          });
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: objectKey,
            UploadId: this.uploadId,
            MultipartUpload: { Parts: this.parts },
            IfNoneMatch: '*',
          }),
        );
        this.uploadId = undefined;
      }
      this.current = undefined;
      this.spare = [];
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }));
      if (head.ContentLength !== this.acknowledged) {
        throw new SluiceError(
          'REMOTE_ERROR',
          `The S3 server holds ${head.ContentLength} bytes of ${display} where ${this.acknowledged} were written.`,
          { hint: 'The S3 server lost data: check it, then run the backup again.', context: { remote: remoteLabel } },
        );
      }
      this.state = 'placed';
    } catch (err) {
      throw describeS3Error(err, remoteLabel, 'write', display);
    }
  }

  async commit(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    await this.seal(validate);
    await this.place();
  }

  async abort(): Promise<void> {
    if (this.state === 'placed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.queue.catch(() => {});
    await Promise.allSettled([...this.inFlight]);
    await this.abortMultipart();
    this.current = undefined;
    this.spare = [];
  }

  private async abortMultipart(): Promise<void> {
    const uploadId = this.uploadId;
    if (uploadId === undefined) return;
    this.uploadId = undefined;
    const { client, bucket, objectKey, remoteLabel, display } = this.target;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }))
      .catch((err: unknown) => {
        if (isNotFound(err) || (err as { name?: string }).name === 'NoSuchUpload') return;
        throw describeS3Error(err, remoteLabel, 'abort the upload of', display);
      });
  }

  private mustBe(state: S3Upload['state'], action: string): void {
    if (this.state !== state)
      throw new SluiceError('INTERNAL', `Cannot ${action} the upload of ${this.target.display}: it is ${this.state}.`, {
        context: { remote: this.target.remoteLabel },
      });
  }

  /** Waits for the writes accepted so far to be copied into parts (and for the first failure, if any). */
  private async drain(): Promise<void> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
  }

  private async settleParts(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Copies the bytes into parts; waits while PARTS_IN_FLIGHT parts are on their way, so memory stays bounded. */
  private async accept(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      if (this.failure !== undefined) throw this.failure;
      if (this.state !== 'writing') throw this.notWriting();
      this.current ??= this.spare.pop() ?? Buffer.allocUnsafe(PART_SIZE);
      const n = data.copy(this.current, this.filled, at);
      this.filled += n;
      at += n;
      if (this.filled === PART_SIZE) {
        while (this.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
        if (this.failure !== undefined) throw this.failure;
        if (this.uploadId === undefined) await this.createMultipart();
        this.sendPart();
      }
    }
  }

  private async createMultipart(): Promise<void> {
    const { client, bucket, objectKey, remoteLabel, display } = this.target;
    const out = await client
      .send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey }))
      .catch((err: unknown) => {
        throw describeS3Error(err, remoteLabel, 'start the upload of', display);
      });
    if (this.state === 'aborted') {
      // Aborted while the upload was being created: do not leave it behind.
      this.uploadId = out.UploadId;
      await this.abortMultipart();
      throw this.notWriting();
    }
    this.uploadId = out.UploadId;
  }

  private sendPart(): void {
    const body = this.current!;
    const length = this.filled;
    const partNumber = ++this.partsSent;
    this.current = undefined;
    this.filled = 0;
    const { client, bucket, objectKey, remoteLabel, display } = this.target;
    const uploadId = this.uploadId!;
    const p = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body.subarray(0, length),
          ContentLength: length,
        }),
      )
      .then(
        (out) => {
          this.parts.push({ PartNumber: partNumber, ETag: out.ETag! });
          this.parts.sort((a, b) => a.PartNumber - b.PartNumber);
          this.acknowledged += length;
          if (length === PART_SIZE) this.spare.push(body);
        },
        (err: unknown) => {
          this.failure ??= describeS3Error(err, remoteLabel, 'write', display);
        },
      )
      .finally(() => {
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  /** Back to nothing written (a retried export starts over): the multipart upload so far is aborted. */
  private async restart(): Promise<void> {
    await this.queue.catch(() => {});
    await Promise.allSettled([...this.inFlight]);
    await this.abortMultipart();
    this.parts = [];
    this.partsSent = 0;
    this.accepted = this.acknowledged = this.filled = 0;
    this.failure = undefined;
    this.queue = Promise.resolve();
    if (this.current) this.spare.push(this.current);
    this.current = undefined;
  }

  private notWriting(): SluiceError {
    return new SluiceError(
      'INTERNAL',
      `The upload of ${this.target.display} takes no more bytes: it is ${this.state}.`,
      {
        context: { remote: this.target.remoteLabel },
      },
    );
  }

  private asFile(): RandomAccessFile {
    const { display, remoteLabel } = this.target;
    return {
      name: display,
      size: async () => (this.state === 'writing' ? this.accepted : this.acknowledged),
      read: async () => {
        throw new SluiceError(
          'INTERNAL',
          `${display} cannot be read back before it is placed: S3 keeps no partial objects.`,
          {
            context: { remote: remoteLabel },
          },
        );
      },
      write: async (buffer, offset, length, position) => {
        // Checked before anything awaits, so two writes in flight are judged in the order they were made.
        if (position !== this.accepted)
          throw new SluiceError(
            'INTERNAL',
            `A write at byte ${position} of ${display} arrived where byte ${this.accepted} was next: an S3 upload takes its bytes in order only.`,
            { context: { remote: remoteLabel } },
          );
        if (this.state !== 'writing') throw this.notWriting();
        this.accepted += length;
        const data = buffer.subarray(offset, offset + length);
        const step = this.queue.then(() => this.accept(data));
        this.queue = step.catch((err: unknown) => {
          this.failure ??= err;
        });
        await step;
        return length;
      },
      truncate: async (length) => {
        if (length !== 0)
          throw new SluiceError('INTERNAL', `${display} can only be emptied, not cut to ${length} bytes, on S3.`, {
            context: { remote: remoteLabel },
          });
        if (this.state !== 'writing') throw this.notWriting();
        await this.restart();
      },
      // Durability on S3 is a part's acknowledgement: wait for the parts in flight.
      sync: () => this.waitForParts(),
      datasync: () => this.waitForParts(),
      close: async () => {},
    };
  }

  private async waitForParts(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.failure !== undefined) throw this.failure;
  }
}

async function exists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
