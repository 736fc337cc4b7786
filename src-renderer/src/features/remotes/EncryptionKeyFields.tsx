import { NO_ENCRYPTION, type EncryptionKeyState } from './encryption-key-state';
import { KEY_LENGTH, keyLengthOf, newRemoteKey } from './remote-key-text';

/**
 * The key of a new encrypted remote, entered once: shown in clear so that it can be copied onto paper, with
 * the plain truth that without it the backups are lost. The engine keeps it in the secret store; it is never
 * shown again.
 */
export function EncryptionKeyFields({
  value,
  onChange,
}: {
  value: EncryptionKeyState;
  onChange: (s: EncryptionKeyState) => void;
}) {
  const length = keyLengthOf(value.key);
  return (
    <fieldset className="encryption-fields" aria-label="Encryption">
      <label className="check">
        <input
          type="checkbox"
          checked={value.enabled}
          onChange={(e) => onChange({ ...NO_ENCRYPTION, enabled: e.target.checked })}
        />
        Encrypt this remote (Xen Orchestra&apos;s format: XO opens it with the same key)
      </label>
      {value.enabled && (
        <>
          <div className="inline-form">
            <label style={{ flex: '1 1 320px' }}>
              Encryption key ({length}/{KEY_LENGTH} characters)
              <input
                className="mono"
                value={value.key}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => onChange({ ...value, key: e.target.value, writtenDown: false })}
                aria-invalid={value.key !== '' && length !== KEY_LENGTH}
              />
            </label>
            <button
              type="button"
              className="secondary"
              onClick={() => onChange({ ...value, key: newRemoteKey(), writtenDown: false })}
            >
              Generate a key
            </button>
          </div>
          <div className="notice warning" role="note">
            <strong>Write this key down now</strong> and keep it away from the machines it protects (on paper in a safe,
            or in a password manager kept elsewhere).{' '}
            <strong>Without the key, the backups on this remote are lost:</strong> nobody can read them, not Sluice, not
            Xen Orchestra. Sluice will not show it again.
          </div>
          <label className="check">
            <input
              type="checkbox"
              checked={value.writtenDown}
              onChange={(e) => onChange({ ...value, writtenDown: e.target.checked })}
            />
            I have written the key down
          </label>
        </>
      )}
    </fieldset>
  );
}
