import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { EngineContext } from '../engine-context.js';

export function settingsHandlers(
  ctx: EngineContext,
): Pick<Handlers, 'settings.getPreferences' | 'settings.updatePreferences'> {
  return {
    'settings.getPreferences': async () => ctx.settings.get().preferences,
    'settings.updatePreferences': async (patch) => {
      const next = await ctx.settings.update((s) => {
        for (const [k, v] of Object.entries(patch))
          if (v !== undefined) (s.preferences as Record<string, unknown>)[k] = v;
      });
      ctx.bus.emit('settings.changed', { section: 'preferences' });
      return next.preferences;
    },
  };
}
