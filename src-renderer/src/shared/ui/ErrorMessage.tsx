import { IpcCallError } from '../../../../src-shared/contract/errors';

export interface PlainError {
  message: string;
  hint?: string | undefined;
  issues?: Array<{ path: string; message: string }> | undefined;
}

/** Whatever was thrown, as what happened and what to do: never a raw stack or a bare code. */
export function plainError(error: unknown): PlainError {
  if (error instanceof IpcCallError) {
    const issues = error.detail.issues?.filter((i) => i.message !== error.message);
    return { message: error.message, hint: error.hint, issues: issues?.length ? issues : undefined };
  }
  if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
    const hint = 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
    return { message: error.message, hint };
  }
  return { message: String(error), hint: 'Try again; if it keeps failing, restart Sluice.' };
}

export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = plainError(error);
  return (
    <div className="error" role="alert">
      {title && <div>{title}</div>}
      <strong>{e.message}</strong>
      {e.issues && (
        <ul>
          {e.issues.map((i) => (
            <li key={i.path + i.message}>{i.message}</li>
          ))}
        </ul>
      )}
      {e.hint && <div className="hint">{e.hint}</div>}
    </div>
  );
}
