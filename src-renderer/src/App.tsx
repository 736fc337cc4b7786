import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { pageFromHash, pages, pageTitles, type Page } from './app/navigation';
import { Notifications } from './app/Notifications';
import { useRunStore, useStoreVersion } from './shared/runs/runs-context';
import { applyTheme } from './app/theme';
import { useClient, useConnectionState, useEvent } from './client/client-context';
import { StatusBar } from './app/StatusBar';
import { BackupsPage } from './features/backups/BackupsPage';
import { DashboardPage } from './features/dashboard/DashboardPage';
import { HostsPage } from './features/hosts/HostsPage';
import { JobsPage } from './features/jobs/JobsPage';
import { RemotesPage } from './features/remotes/RemotesPage';
import { SettingsPage } from './features/settings/SettingsPage';
import { TransfersPage } from './features/transfers/TransfersPage';

// One component per view.
const views: Record<Page, () => ReactElement> = {
  dashboard: DashboardPage,
  hosts: HostsPage,
  transfers: TransfersPage,
  jobs: JobsPage,
  backups: BackupsPage,
  remotes: RemotesPage,
  settings: SettingsPage,
};

export function App() {
  const client = useClient();
  const connection = useConnectionState();
  const store = useRunStore();
  useStoreVersion(store, 1000);
  const [page, setPage] = useState<Page>(() => pageFromHash(window.location.hash));
  useEffect(() => {
    const onHash = () => setPage(pageFromHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const loadTheme = useCallback(
    () =>
      void client.invoke('settings.getPreferences', {}).then(
        (p) => applyTheme(p.theme),
        () => {},
      ),
    [client],
  );
  useEffect(() => {
    if (connection === 'connected') loadTheme();
  }, [connection, loadTheme]);
  useEvent(
    'settings.changed',
    useCallback((e) => e.section === 'preferences' && loadTheme(), [loadTheme]),
  );
  useEffect(() => {
    document.title = `${pageTitles[page]} · Sluice`;
  }, [page]);

  const running = store.runs().filter((r) => !r.result).length;
  const View = views[page];
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">Sluice</div>
        <ul>
          {pages.map((p) => (
            <li key={p}>
              <a href={`#/${p}`} aria-current={p === page ? 'page' : undefined}>
                {pageTitles[p]}
                {p === 'transfers' && running > 0 && (
                  <span className="nav-count" aria-hidden="true" title={`${running} running`}>
                    {running}
                  </span>
                )}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        {connection !== 'connected' ? (
          <p>
            {connection === 'connecting'
              ? 'Connecting to the Sluice engine…'
              : 'The engine is not reachable; retrying.'}
          </p>
        ) : (
          <View />
        )}
      </main>
      <StatusBar />
      <Notifications />
    </div>
  );
}
