/** The views, in the order of the sidebar. Jobs and History plug in here when their channels exist. */
export const pages = ['dashboard', 'hosts', 'transfers', 'jobs', 'backups', 'remotes', 'settings'] as const;
export type Page = (typeof pages)[number];

export const pageTitles: Record<Page, string> = {
  dashboard: 'Dashboard',
  hosts: 'Hosts',
  transfers: 'Transfers',
  jobs: 'Jobs',
  backups: 'Backups',
  remotes: 'Remotes',
  settings: 'Settings',
};

export function pageFromHash(hash: string): Page {
  const h = hash.replace(/^#\/?/, '').split('/')[0] ?? '';
  return (pages as readonly string[]).includes(h) ? (h as Page) : 'dashboard';
}

export function navigate(page: Page): void {
  window.location.hash = `#/${page}`;
}
