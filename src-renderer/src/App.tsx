import { useEffect, useState } from 'react';
import type { Preferences } from '../../src-shared/ipc-contract';
import { useClient, useConnectionState } from './client/client-context';
import { StatusBar } from './components/StatusBar';
import { DashboardPage } from './pages/DashboardPage';
import { HostsPage } from './pages/HostsPage';
import { PlaceholderPage } from './pages/PlaceholderPage';
import { RemotesPage } from './pages/RemotesPage';
import { SettingsPage } from './pages/SettingsPage';

const pages = ['dashboard', 'hosts', 'jobs', 'backups', 'remotes', 'settings'] as const;
type Page = (typeof pages)[number];
const titles: Record<Page, string> = { dashboard: 'Dashboard', hosts: 'Hosts', jobs: 'Jobs', backups: 'Backups', remotes: 'Remotes', settings: 'Settings' };

function pageFromHash(): Page {
  const h = window.location.hash.replace(/^#\/?/, '');
  return (pages as readonly string[]).includes(h) ? (h as Page) : 'dashboard';
}

function applyTheme(theme: Preferences['theme']) {
  const dark = theme === 'dark' || (theme === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

export function App() {
  const client = useClient();
  const connection = useConnectionState();
  const [page, setPage] = useState<Page>(pageFromHash);
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (connection === 'connected') void client.invoke('settings.getPreferences', {}).then((p) => applyTheme(p.theme), () => {});
  }, [client, connection]);

  return (
    <div className="app">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">Sluice</div>
        <ul>
          {pages.map((p) => (
            <li key={p}>
              <a href={`#/${p}`} aria-current={p === page ? 'page' : undefined}>
                {titles[p]}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        {connection !== 'connected' ? (
          <p>{connection === 'connecting' ? 'Connecting to the Sluice engine…' : 'The engine is not reachable; retrying.'}</p>
        ) : page === 'dashboard' ? (
          <DashboardPage />
        ) : page === 'hosts' ? (
          <HostsPage />
        ) : page === 'remotes' ? (
          <RemotesPage />
        ) : page === 'settings' ? (
          <SettingsPage onTheme={applyTheme} />
        ) : page === 'jobs' ? (
          <PlaceholderPage title="Jobs" text="No job yet. Backup jobs arrive with the engine." />
        ) : (
          <PlaceholderPage title="Backups" text="No backup yet." />
        )}
      </main>
      <StatusBar />
    </div>
  );
}
