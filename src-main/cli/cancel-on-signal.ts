import { SluiceError } from '../errors/sluice-error.js';

/**
 * Ctrl-C (or a service manager's SIGTERM) cancels the command's work, which then cleans up after itself
 * (temp files, host tasks, snapshots) instead of dying mid-write. `dispose` puts the default handlers back.
 */
export function cancelOnSignal(onCancel?: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    onCancel?.();
    controller.abort(new SluiceError('CANCELLED', 'Cancelled by the user.'));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
