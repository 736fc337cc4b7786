import { SluiceError } from '../errors/sluice-error.js';

/** What the SDK's errors carry that we read: the S3 error code as `name`, and the HTTP status. */
interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

export function s3StatusOf(err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode;
}

/** The S3 error code (NoSuchKey, PreconditionFailed…) or, for body-less answers (HEAD), NotFound/Forbidden. */
export function s3CodeOf(err: unknown): string {
  return (err as SdkError)?.name ?? '';
}

export function isNotFound(err: unknown): boolean {
  const code = s3CodeOf(err);
  return code === 'NoSuchKey' || code === 'NotFound' || (s3StatusOf(err) === 404 && code !== 'NoSuchBucket');
}

/**
 * An S3 failure in words an admin can act on, with the remote's label. `what` is the object or the remote as
 * the message names it (`s3://bucket/key`), `action` what Sluice was doing ("read", "write", "list").
 */
export function describeS3Error(err: unknown, remoteLabel: string, action: string, what: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as SdkError;
  const code = s3CodeOf(err);
  const status = s3StatusOf(err);
  const context = { remote: remoteLabel };
  const make = (c: SluiceError['code'], words: string, hint: string, extra: { retryable?: boolean } = {}) =>
    new SluiceError(c, `Could not ${action} ${what}: ${words}.`, { hint, context, cause: err, ...extra });
  if (code === 'SignatureDoesNotMatch')
    return make(
      'UNAUTHORIZED',
      'the S3 server refused the secret key (SignatureDoesNotMatch)',
      'Check the secret access key (AWS_SECRET_ACCESS_KEY for the CLI, or the remote in the Remotes view).',
    );
  if (code === 'InvalidAccessKeyId')
    return make(
      'UNAUTHORIZED',
      'the S3 server does not know the access key id (InvalidAccessKeyId)',
      'Check the access key id (AWS_ACCESS_KEY_ID for the CLI, or the remote in the Remotes view).',
    );
  if (code === 'NoSuchBucket')
    return make(
      'NOT_FOUND',
      'the bucket does not exist',
      'Check the bucket name and the endpoint. Sluice never creates a bucket: create it on the S3 server first.',
    );
  if (code === 'AccessDenied' || code === 'Forbidden' || status === 403)
    return make(
      'UNAUTHORIZED',
      `access was denied${code && code !== 'AccessDenied' && code !== 'Forbidden' ? ` (${code})` : ''}`,
      'Check the keys, and that they may list, read, write and delete objects and run multipart uploads in this bucket.',
    );
  if (code === 'PreconditionFailed' || status === 412)
    return make(
      'CONFLICT',
      'an object of that name already exists',
      'Another writer is using this repository; make sure only one Sluice writes to it. Nothing was replaced.',
    );
  const netCode = e?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  if ((netCode && NETWORK_CODES.has(netCode)) || code === 'TimeoutError' || code === 'RequestTimeout')
    return make(
      'REMOTE_ERROR',
      `the S3 endpoint could not be reached (${netCode ?? code})`,
      'Check the endpoint URL, that the S3 server is running, and the network between it and Sluice.',
    );
  if (code === 'InvalidBucketName')
    return make('VALIDATION', 'the bucket name is not valid there', 'Check the bucket name.');
  return make(
    'REMOTE_ERROR',
    `the S3 server answered ${code || 'an error'}${status ? ` (HTTP ${status})` : ''}${e?.message && e.message !== code ? `: ${e.message}` : ''}`,
    'Check the S3 server and its logs, then run the operation again.',
  );
}
