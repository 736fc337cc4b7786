import path from 'node:path';
import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { EngineContext } from '../engine-context.js';

export function settingsHandlers(
  ctx: EngineContext,
): Pick<Handlers, 'settings.getPreferences' | 'settings.updatePreferences'> {
  return {
    'settings.getPreferences': async () => ctx.settings.get().preferences,
    'settings.updatePreferences': async (patch) => {
      if (patch.spoolDir) checkSpoolDir(patch.spoolDir);
      const next = await ctx.settings.update((s) => {
        for (const [k, v] of Object.entries(patch))
          if (v !== undefined) (s.preferences as Record<string, unknown>)[k] = v;
      });
      ctx.bus.emit('settings.changed', { section: 'preferences' });
      return next.preferences;
    },
  };
}

/**
 * A relative spool folder would be relative to wherever the engine happened to start (the app, `serve`, the
 * daemon each start elsewhere): only a full path names one folder. UNC paths are full on Windows.
 */
function checkSpoolDir(dir: string): void {
  if (path.isAbsolute(dir) || dir.startsWith('\\\\')) return;
  throw new SluiceError('VALIDATION', `The spool folder "${dir}" is not a full path; nothing was saved.`, {
    hint: 'Enter the full path of a folder on a fast local disk, e.g. /var/tmp/sluice-spool, or leave it empty for the system temp folder.',
    issues: [{ path: 'spoolDir', message: 'Enter a full path, e.g. /var/tmp/sluice-spool' }],
  });
}
