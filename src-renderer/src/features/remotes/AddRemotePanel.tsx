import { useState, type FormEvent } from 'react';
import { IpcCallError } from '../../../../src-shared/contract/errors';
import { useClient } from '../../client/client-context';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { issueAt, type Issue } from '../../shared/ui/field-issues';
import { FieldIssue } from '../../shared/ui/FieldIssue';
import { EncryptionKeyFields } from './EncryptionKeyFields';
import { encryptionProblem, NO_ENCRYPTION } from './encryption-key-state';
import {
  addRemoteRequest,
  currentRemoteIssues,
  DEFAULT_REGION,
  EMPTY_REMOTE_FORM,
  pathStyleOf,
  placedAtAField,
  withoutSecret,
  type RemoteForm,
  type RemoteKindChoice,
} from './remote-form-model';

type TextKey = 'name' | 'path' | 'endpoint' | 'bucket' | 'prefix' | 'region' | 'accessKeyId' | 'secretAccessKey';

interface FieldProps {
  form: RemoteForm;
  set: (patch: Partial<RemoteForm>) => void;
  at: (path: string) => string | undefined;
}

/**
 * Adding a remote: a folder, or an S3-compatible bucket with its keys. The engine proves an S3 remote's keys
 * and bucket before it saves it, and refuses per field; the secret key leaves the form as it is sent.
 */
export function AddRemotePanel() {
  const client = useClient();
  const [form, setForm] = useState<RemoteForm>(EMPTY_REMOTE_FORM);
  const [encryption, setEncryption] = useState(NO_ENCRYPTION);
  const [error, setError] = useState<unknown>(null);
  const [refused, setRefused] = useState<{ form: RemoteForm; issues: Issue[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const encryptionIssue = encryptionProblem(encryption);
  const set = (patch: Partial<RemoteForm>) => setForm((f) => ({ ...f, ...patch }));
  const issues = refused ? currentRemoteIssues(refused.issues, refused.form, form).filter(placedAtAField) : [];
  const fields: FieldProps = { form, set, at: (path) => issueAt(issues, path) };
  const s3 = form.kind === 's3';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const request = addRemoteRequest(form, encryption);
    // The secret key goes to the engine and nowhere else: the form forgets it now, whatever the answer.
    const sent = withoutSecret(form);
    setForm(sent);
    setBusy(true);
    try {
      await client.invoke('remotes.add', request);
      setForm(EMPTY_REMOTE_FORM);
      setEncryption(NO_ENCRYPTION);
      setRefused(null);
    } catch (err) {
      const engine = err instanceof IpcCallError ? (err.detail.issues ?? []) : [];
      setRefused({ form: sent, issues: engine });
      setError(belowTheForm(err, engine));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="panel">
      <h2>Add a remote</h2>
      <p className="muted">
        {s3
          ? 'A bucket on AWS S3 or on an S3-compatible server. Sluice never creates a bucket: create it first, with keys that may list, read, write and delete in it. The secret key goes to the secret store and is never shown again.'
          : 'A local folder or a mounted share (NFS, SMB). Sluice never creates a missing remote folder: an unmounted share must fail a backup, not fill the local disk.'}
      </p>
      <form className="add-remote" onSubmit={(e) => void submit(e)} aria-label="Add a remote" noValidate>
        <div className="inline-form">
          <TextField {...fields} k="name" label="Name" path="name" placeholder={s3 ? 'Offsite' : 'NAS'} />
          {/* Not inside its label: a label's text would then hold the options' ("Folder…"), naming the select. */}
          <div className="labelled">
            <label htmlFor="remote-kind">Kind</label>
            <select
              id="remote-kind"
              value={form.kind}
              onChange={(e) => set({ kind: e.target.value as RemoteKindChoice })}
            >
              <option value="folder">Folder (local disk or a mounted share)</option>
              <option value="s3">S3-compatible object storage (AWS, Backblaze B2, Wasabi, MinIO, Ceph)</option>
            </select>
          </div>
          {!s3 && <TextField {...fields} k="path" label="Folder" path="path" placeholder="/mnt/backups" wide />}
        </div>
        {s3 && (
          <S3RemoteFields
            {...fields}
            locationIssue={issueAt(
              issues.filter((i) => i.path === 's3'),
              's3',
            )}
          />
        )}
        <EncryptionKeyFields value={encryption} onChange={setEncryption} />
        {encryption.enabled && encryptionIssue && <p className="muted">{encryptionIssue}</p>}
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="submit" disabled={busy || encryptionIssue !== undefined}>
            {busy ? 'Adding…' : 'Add remote'}
          </button>
        </div>
      </form>
    </div>
  );
}

/**
 * What is said below the form: what no field carries (a wrong secret key, a missing bucket: the engine's words
 * and hint); refusals at fields are summed up there, with the engine's hint.
 */
function belowTheForm(err: unknown, issues: Issue[]): unknown {
  if (issues.length === 0 || !issues.every(placedAtAField)) return err;
  return {
    message: 'The remote was not added: correct the fields marked above.',
    hint: err instanceof IpcCallError ? err.hint : undefined,
  };
}

/** Where the bucket is and the keys to it. `locationIssue`: the engine's word on the location as a whole. */
function S3RemoteFields(props: FieldProps & { locationIssue: string | undefined }) {
  const { form, set, locationIssue } = props;
  return (
    <fieldset
      className="s3-fields"
      aria-invalid={locationIssue ? true : undefined}
      aria-describedby={locationIssue ? 's3' : undefined}
    >
      <legend>Bucket and keys</legend>
      <FieldIssue id="s3" message={locationIssue} />
      <div className="form-grid">
        <TextField
          {...props}
          k="endpoint"
          label="Endpoint URL"
          path="s3.endpoint"
          placeholder="https://s3.example.com"
          help="Empty for AWS itself."
        />
        <TextField {...props} k="bucket" label="Bucket" path="s3.bucket" placeholder="backups" />
        <TextField
          {...props}
          k="prefix"
          label="Prefix"
          path="s3.prefix"
          placeholder="sluice/site-a"
          help="Optional: where the backups start in the bucket."
        />
        <TextField {...props} k="region" label="Region" path="s3.region" placeholder={DEFAULT_REGION} />
        <TextField {...props} k="accessKeyId" label="Access key id" path="s3.accessKeyId" />
        <TextField {...props} k="secretAccessKey" label="Secret access key" path="s3.secretAccessKey" secret />
      </div>
      <label className="check">
        <input type="checkbox" checked={pathStyleOf(form)} onChange={(e) => set({ pathStyle: e.target.checked })} />
        Path-style addressing (endpoint/bucket/key: most self-hosted servers need it; on by default with an endpoint)
      </label>
    </fieldset>
  );
}

/** One text field of the form, with the engine's refusal of it (if any) under it. */
function TextField({
  form,
  set,
  at,
  k,
  label,
  path,
  placeholder,
  help,
  secret,
  wide,
}: FieldProps & {
  k: TextKey;
  label: string;
  path: string;
  placeholder?: string;
  help?: string;
  secret?: boolean;
  wide?: boolean;
}) {
  const id = path.replace(/\./g, '-');
  const issue = at(path);
  return (
    <label style={wide ? { flex: '1 1 320px' } : undefined}>
      {label}
      <input
        value={form[k]}
        onChange={(e) => set({ [k]: e.target.value })}
        placeholder={placeholder}
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? id : undefined}
        {...(secret ? { type: 'password', autoComplete: 'new-password' } : { autoComplete: 'off', spellCheck: false })}
      />
      {help && <span className="help">{help}</span>}
      <FieldIssue id={id} message={issue} />
    </label>
  );
}
