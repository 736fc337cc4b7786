import { useEffect, useState } from 'react';
import type { Preferences } from '../../../src-shared/ipc-contract';
import { useClient } from '../client/client-context';
import { ErrorMessage } from '../components/ErrorMessage';

export function SettingsPage({ onTheme }: { onTheme: (t: Preferences['theme']) => void }) {
  const client = useClient();
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => void client.invoke('settings.getPreferences', {}).then(setPrefs, setError), [client]);

  const setTheme = async (theme: Preferences['theme']) => {
    // Optimistic: the radio follows the click at once; a refusal puts it back and says why.
    const before = prefs;
    if (prefs) setPrefs({ ...prefs, theme });
    onTheme(theme);
    try {
      setPrefs(await client.invoke('settings.updatePreferences', { theme }));
      onTheme(theme);
    } catch (err) {
      setPrefs(before);
      if (before) onTheme(before.theme);
      setError(err);
    }
  };

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Settings</h1>
      <ErrorMessage error={error} />
      {prefs && (
        <fieldset>
          <legend>Theme</legend>
          {(['system', 'light', 'dark'] as const).map((t) => (
            <label key={t} className="radio">
              <input type="radio" name="theme" checked={prefs.theme === t} onChange={() => void setTheme(t)} /> {t[0]!.toUpperCase() + t.slice(1)}
            </label>
          ))}
        </fieldset>
      )}
    </section>
  );
}
