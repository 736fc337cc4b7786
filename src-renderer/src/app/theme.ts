import type { Preferences } from '../../../src-shared/contract/settings';

let current: Preferences['theme'] = 'system';
const media = typeof window !== 'undefined' ? window.matchMedia('(prefers-color-scheme: dark)') : undefined;

function resolve(theme: Preferences['theme']): 'light' | 'dark' {
  return theme === 'dark' || (theme === 'system' && media?.matches) ? 'dark' : 'light';
}

/** Sets html[data-theme]; "system" follows the OS, also when it changes while Sluice is open. */
export function applyTheme(theme: Preferences['theme']): void {
  current = theme;
  document.documentElement.dataset.theme = resolve(theme);
  window.dispatchEvent(new CustomEvent('sluice-theme'));
}

media?.addEventListener('change', () => applyTheme(current));
