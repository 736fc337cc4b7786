import { useEffect, useState, type FormEvent } from 'react';
import type { Preferences } from '../../../../src-shared/contract/settings';
import { GiB, MiB } from '../../../../src-shared/units';
import { applyTheme } from '../../app/theme';
import { useClient } from '../../client/client-context';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';

interface Draft {
  spoolDir: string;
  spoolCapGiB: string;
  memoryMiB: string;
  speedLimitMiB: string;
  notifyOnSuccess: boolean;
  notifyOnFailure: boolean;
}

function toDraft(p: Preferences): Draft {
  return {
    spoolDir: p.spoolDir ?? '',
    spoolCapGiB: String(Math.round((p.spoolCapBytes / GiB) * 100) / 100),
    memoryMiB: String(Math.round(p.memoryBufferBytes / MiB)),
    speedLimitMiB:
      p.defaultSpeedLimitBytesPerSec === null
        ? ''
        : String(Math.round((p.defaultSpeedLimitBytesPerSec / MiB) * 100) / 100),
    notifyOnSuccess: p.notifyOnSuccess,
    notifyOnFailure: p.notifyOnFailure,
  };
}

type Parsed = { ok: true; patch: Partial<Preferences> } | { ok: false; error: { message: string; hint: string } };

function parse(d: Draft): Parsed {
  const positive = (
    text: string,
    what: string,
    unit: string,
    example: string,
  ): number | { message: string; hint: string } => {
    const n = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(n) && n > 0
      ? n
      : {
          message: `"${text}" is not a valid ${what}.`,
          hint: `Enter a number of ${unit} greater than 0, e.g. ${example}.`,
        };
  };
  const cap = positive(d.spoolCapGiB, 'spool size', 'GiB', '4');
  if (typeof cap !== 'number') return { ok: false, error: cap };
  const mem = positive(d.memoryMiB, 'memory buffer', 'MiB', '64');
  if (typeof mem !== 'number') return { ok: false, error: mem };
  let limit: number | null = null;
  if (d.speedLimitMiB.trim() !== '') {
    const l = positive(d.speedLimitMiB, 'speed limit', 'MiB/s', '100');
    if (typeof l !== 'number') return { ok: false, error: { ...l, hint: `${l.hint} Leave it empty for no limit.` } };
    limit = Math.round(l * MiB);
  }
  return {
    ok: true,
    patch: {
      spoolDir: d.spoolDir.trim() === '' ? null : d.spoolDir.trim(),
      spoolCapBytes: Math.round(cap * GiB),
      memoryBufferBytes: Math.round(mem * MiB),
      defaultSpeedLimitBytesPerSec: limit,
      notifyOnSuccess: d.notifyOnSuccess,
      notifyOnFailure: d.notifyOnFailure,
    },
  };
}

export function SettingsPage() {
  const client = useClient();
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(
    () =>
      void client.invoke('settings.getPreferences', {}).then((p) => {
        setPrefs(p);
        setDraft(toDraft(p));
      }, setError),
    [client],
  );

  const setTheme = async (theme: Preferences['theme']) => {
    // Optimistic: the radio follows the click at once; a refusal puts it back and says why.
    const before = prefs;
    if (prefs) setPrefs({ ...prefs, theme });
    applyTheme(theme);
    try {
      setPrefs(await client.invoke('settings.updatePreferences', { theme }));
    } catch (err) {
      setPrefs(before);
      if (before) applyTheme(before.theme);
      setError(err);
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    setSaved(false);
    setError(null);
    const parsed = parse(draft);
    if (!parsed.ok) return setError(parsed.error);
    try {
      const next = await client.invoke('settings.updatePreferences', parsed.patch);
      setPrefs(next);
      setDraft(toDraft(next));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };

  const set = (patch: Partial<Draft>) => {
    setSaved(false);
    setDraft((d) => (d ? { ...d, ...patch } : d));
  };

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Settings</h1>
      {prefs && (
        <fieldset>
          <legend>Theme</legend>
          {(['system', 'light', 'dark'] as const).map((t) => (
            <label key={t} className="radio">
              <input type="radio" name="theme" checked={prefs.theme === t} onChange={() => void setTheme(t)} />{' '}
              {t[0]!.toUpperCase() + t.slice(1)}
            </label>
          ))}
        </fieldset>
      )}
      {draft && (
        <form onSubmit={(e) => void save(e)} aria-label="Transfer and notification settings">
          <fieldset>
            <legend>Spool and speed</legend>
            <p className="help">
              When a remote writes slower than the host sends, Sluice holds the difference in memory, then in the spool
              folder, so the host never has to wait long enough to give up.
            </p>
            <div className="form-grid">
              <label>
                Spool folder
                <input
                  value={draft.spoolDir}
                  onChange={(e) => set({ spoolDir: e.target.value })}
                  placeholder="the system temp folder"
                />
                <span className="help">Empty: the system temp folder. Use a fast local disk.</span>
              </label>
              <label>
                Spool size limit (GiB)
                <input
                  inputMode="decimal"
                  value={draft.spoolCapGiB}
                  onChange={(e) => set({ spoolCapGiB: e.target.value })}
                />
                <span className="help">Never more than half the free space of the spool folder.</span>
              </label>
              <label>
                Memory buffer (MiB)
                <input
                  inputMode="decimal"
                  value={draft.memoryMiB}
                  onChange={(e) => set({ memoryMiB: e.target.value })}
                />
              </label>
              <label>
                Default speed limit (MiB/s)
                <input
                  inputMode="decimal"
                  value={draft.speedLimitMiB}
                  onChange={(e) => set({ speedLimitMiB: e.target.value })}
                  placeholder="no limit"
                />
                <span className="help">Empty: no limit. A backup can set its own.</span>
              </label>
            </div>
          </fieldset>
          <fieldset>
            <legend>Notifications</legend>
            <label className="check">
              <input
                type="checkbox"
                checked={draft.notifyOnSuccess}
                onChange={(e) => set({ notifyOnSuccess: e.target.checked })}
              />{' '}
              Notify when a backup succeeds
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={draft.notifyOnFailure}
                onChange={(e) => set({ notifyOnFailure: e.target.checked })}
              />{' '}
              Notify when a backup fails or is cancelled
            </label>
          </fieldset>
          <button type="submit">Save settings</button>
          {saved && (
            <span role="status" className="muted" style={{ marginLeft: 12 }}>
              Saved.
            </span>
          )}
        </form>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}
