import { SluiceError } from '../errors/sluice-error.js';

/** Bad command-line usage: exit code 2, the message and a pointer to --help. */
export class UsageError extends SluiceError {
  constructor(message: string) {
    super('VALIDATION', message, { hint: 'Run `npx sluice --help` for the commands and their options.' });
  }
}

/** Prints an error the way every command does: what happened, to what, what to do. Returns the exit code. */
export function reportCliError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (err instanceof SluiceError) {
    const ctx = Object.entries(err.context)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    write(`sluice: ${err.message}${ctx ? ` [${ctx}]` : ''}\n`);
    if (err.hint) write(`  hint: ${err.hint}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  write(`sluice: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
