import { useCallback, useState } from 'react';
import type { BackupRunResult } from '../../../src-shared/contract/backups';
import { useClient, useEvent } from '../client/client-context';

interface Toast {
  id: string;
  ok: boolean;
  title: string;
  text: string;
}

function describe(r: BackupRunResult): Toast {
  const names =
    r.vms
      .map((v) => v.vmName)
      .filter(Boolean)
      .join(', ') || 'the selected VMs';
  const failed = r.vms.find((v) => !v.ok);
  if (r.ok)
    return { id: r.runId, ok: true, title: 'Backup finished', text: `${names}: every point written and verified.` };
  if (r.cancelled)
    return {
      id: r.runId,
      ok: false,
      title: 'Backup cancelled',
      text: `${names}: ${failed?.error?.message ?? 'cancelled.'}`,
    };
  return {
    id: r.runId,
    ok: false,
    title: 'Backup failed',
    text: `${failed?.vmName ? `${failed.vmName}: ` : ''}${failed?.error?.message ?? 'see Transfers.'}${failed?.error?.hint ? ` ${failed.error.hint}` : ''}`,
  };
}

/**
 * A run's end, said where the admin is looking: a toast in the window and, when the OS allows it (always in
 * the desktop app), a system notification. Which outcomes are announced is a setting.
 */
export function Notifications() {
  const client = useClient();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = (id: string) => setToasts((t) => t.filter((x) => x.id !== id));
  useEvent(
    'backup.finished',
    useCallback(
      (r: BackupRunResult) => {
        void client.invoke('settings.getPreferences', {}).then(
          (prefs) => {
            if (r.ok ? !prefs.notifyOnSuccess : !prefs.notifyOnFailure) return;
            const toast = describe(r);
            setToasts((t) => [...t.filter((x) => x.id !== toast.id), toast].slice(-4));
            if (toast.ok) setTimeout(() => dismiss(toast.id), 10_000);
            if (typeof Notification !== 'undefined' && Notification.permission === 'granted')
              new Notification(`Sluice: ${toast.title}`, { body: toast.text });
          },
          () => {},
        );
      },
      [client],
    ),
  );
  return (
    <div className="toasts" aria-label="Notifications">
      {toasts.map((t) => (
        <div key={t.id} className={`toast${t.ok ? '' : ' bad'}`} role={t.ok ? 'status' : 'alert'}>
          <div>
            <strong>{t.title}</strong>
            <div>{t.text}</div>
          </div>
          <button type="button" className="secondary" onClick={() => dismiss(t.id)} aria-label={`Dismiss: ${t.title}`}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
