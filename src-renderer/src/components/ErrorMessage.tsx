import { IpcCallError } from '../../../src-shared/ipc-errors';

/** Errors in plain words with what to do: never a raw stack or a bare code. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof IpcCallError ? error.hint : undefined;
  return (
    <div className="error" role="alert">
      <strong>{message}</strong>
      {hint && <div className="hint">{hint}</div>}
    </div>
  );
}
