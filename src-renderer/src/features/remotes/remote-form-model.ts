import type { RequestOf } from '../../../../src-shared/contract/index.js';
import type { Issue } from '../../shared/ui/field-issues.js';
import type { EncryptionKeyState } from './encryption-key-state.js';

/**
 * The Remotes view's add form as text, and the `remotes.add` request it makes. The secret access key is held
 * only while the admin types it: the form is cleared of it as soon as it is sent (see RemotesPage).
 */
export type RemoteKindChoice = 'folder' | 's3';

export interface RemoteForm {
  kind: RemoteKindChoice;
  name: string;
  path: string;
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  /** undefined: follows the endpoint (path-style when one is given, as self-hosted gateways need). */
  pathStyle: boolean | undefined;
  accessKeyId: string;
  secretAccessKey: string;
}

export const DEFAULT_REGION = 'us-east-1';

export const EMPTY_REMOTE_FORM: RemoteForm = {
  kind: 'folder',
  name: '',
  path: '',
  endpoint: '',
  bucket: '',
  prefix: '',
  region: DEFAULT_REGION,
  pathStyle: undefined,
  accessKeyId: '',
  secretAccessKey: '',
};

/** The checkbox as shown: the admin's choice, else on when an endpoint is given (AWS itself: virtual-host). */
export function pathStyleOf(f: RemoteForm): boolean {
  return f.pathStyle ?? f.endpoint.trim() !== '';
}

export type AddRemoteRequest = RequestOf<'remotes.add'>;

/** What the form sends: a folder's path, or an S3 remote's fields; the encryption key for either kind. */
export function addRemoteRequest(f: RemoteForm, encryption: EncryptionKeyState): AddRemoteRequest {
  const encryptionKey = encryption.enabled ? { encryptionKey: encryption.key } : {};
  if (f.kind === 'folder') return { name: f.name, path: f.path, ...encryptionKey };
  const endpoint = f.endpoint.trim();
  return {
    name: f.name,
    kind: 's3',
    s3: {
      ...(endpoint ? { endpoint } : {}),
      bucket: f.bucket,
      prefix: f.prefix,
      region: f.region.trim() || DEFAULT_REGION,
      pathStyle: pathStyleOf(f),
      accessKeyId: f.accessKeyId,
      secretAccessKey: f.secretAccessKey,
    },
    ...encryptionKey,
  };
}

/**
 * The form's fields by the engine's issue paths ('s3' alone: the location as a whole, shown on the group). The
 * kind is one of them wherever the field belongs to one kind: another kind, another form.
 */
const FIELD_OF_PATH: Record<string, ReadonlyArray<keyof RemoteForm>> = {
  name: ['name'],
  path: ['kind', 'path'],
  s3: ['kind', 'endpoint', 'bucket', 'prefix', 'region', 'pathStyle'],
  's3.endpoint': ['kind', 'endpoint'],
  's3.bucket': ['kind', 'bucket'],
  's3.prefix': ['kind', 'prefix'],
  's3.region': ['kind', 'region'],
  's3.pathStyle': ['kind', 'pathStyle', 'endpoint'],
  's3.accessKeyId': ['kind', 'accessKeyId'],
  's3.secretAccessKey': ['kind', 'secretAccessKey'],
};

/** Whether the form has a field that shows an issue of this path. */
export function placedAtAField(i: Issue): boolean {
  return i.path in FIELD_OF_PATH;
}

/**
 * The engine's issues that still hold: each one only while its field keeps the value it was refused with, so a
 * field the admin corrects loses its error at once. `refused` is the form as sent, without its secret.
 */
export function currentRemoteIssues(issues: Issue[], refused: RemoteForm, now: RemoteForm): Issue[] {
  return issues.filter((i) => {
    const fields = FIELD_OF_PATH[i.path];
    if (!fields) return true;
    return fields.every((k) => refused[k] === now[k]);
  });
}

/** The form once sent: the secret key is never kept in the renderer after it has gone to the engine. */
export function withoutSecret(f: RemoteForm): RemoteForm {
  return { ...f, secretAccessKey: '' };
}
