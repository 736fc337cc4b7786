import { parseArgs } from 'node:util';
import { createNodeEngine, type NodeEngine } from '../../engine/engine-node.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { UsageError } from '../cli-errors.js';

// What every `sluice jobs` subcommand shares: its help, its option parser, and the engine it talks to through
// the same dispatcher (and so the same validation) as the app.

export const jobsHelp = `sluice jobs <list|add|run|history|summary|remove> [options]   (all take --data-dir DIR)

Backup jobs, kept in Sluice's settings (the same ones the app, \`sluice serve\` and \`sluice daemon\` use).

  sluice jobs list [--json]
  sluice jobs run NAME [--json]           run a job now, here; refused if it is already running anywhere
  sluice jobs history NAME [--limit N] [--json]
  sluice jobs summary RUN_ID|NAME [--out FILE]   a run's summary as text (NAME: its last run)
  sluice jobs remove NAME
  sluice jobs add --file JOB.json         the jobs.save shape (hostId and remoteIds may be names)
  sluice jobs add --name NAME --host POOL --remote REMOTE... (--vm VM... | --tag TAG... | --pool)
                  [--exclude VM...] [--mode full|delta] [--schedule CRON... [--keep N...] [--timezone TZ]]
                  [--compression zstd|none] [--vm-concurrency N] [--disk-concurrency N]
                  [--speed-limit RATE] [--full-interval N] [--run-missed]
  sluice jobs add --name NAME --mirror-from REMOTE --remote REMOTE... (--vm VM... | --pool)
                  [--mode full|delta] [--schedule CRON... [--keep N...] [--timezone TZ]] [--run-missed]
                                          a mirror job: copies the points of one remote to others

  --host POOL        a configured pool (id, label or URL); a new URL is added with
                     --username U --password-file F [--trust-fingerprint SHA256]
  --remote REMOTE    a configured remote (id or name), or an absolute folder path (added as a remote)
  --mirror-from REMOTE  a mirror job's source (as --remote); --vm then names VMs among its backups, --mode
                     picks full or incremental points, --keep is what the targets keep (only that is sent)
  --vm VM            a VM by name or uuid (repeat); --tag TAG: VMs with that tag; --pool: every VM
  --exclude VM       with --tag or --pool: leave this VM out (repeat)
  --schedule CRON    e.g. "0 2 * * *" (repeat for several); --keep N: points each schedule keeps (one
                     value for all, or one per schedule; default 7); --timezone TZ (default: this machine's)
  --run-missed       run a backup at start when one fell due while Sluice was not running
                     (default: only report it)
`;

export type Values = Record<string, string | boolean | string[] | undefined>;

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

export function parse(argv: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...options, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function help(): number {
  process.stdout.write(jobsHelp);
  return 0;
}

export async function call<T>(engine: NodeEngine, channel: string, payload: unknown): Promise<T> {
  const r = await engine.dispatcher.dispatch(channel, payload);
  if (!r.ok) {
    const { code, message, hint, context, issues } = r.error;
    // The UI highlights the fields `issues` names; a terminal has no highlight to point at.
    const cliHint = issues?.length ? 'Correct the values named above, then run the command again.' : hint;
    throw new SluiceError(code, message, { hint: cliHint, context, ...(issues ? { issues } : {}) });
  }
  return r.value as T;
}

export async function withEngine<T>(values: Values, fn: (e: NodeEngine) => Promise<T>): Promise<T> {
  const engine = createNodeEngine({ dataDir: values['data-dir'] as string | undefined, transport: 'websocket' });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

export function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`Name ${what} (exactly one).`);
  return positionals[0]!;
}
