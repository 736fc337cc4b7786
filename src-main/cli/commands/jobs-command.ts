import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Job, JobView } from '../../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../../src-shared/contract/runs.js';
import { resolveVms } from '../../backup/vm-selection.js';
import { createNodeEngine, type NodeEngine } from '../../engine/engine-node.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { formatRunSummary } from '../../jobs/run-summary-text.js';
import { UsageError } from '../cli-errors.js';
import { formatBytes, formatDuration, formatRate, parseSize } from '../../../src-shared/units.js';
import { readPasswordFile, HOST_CONNECTION_OPTIONS } from '../host-connection.js';
import { ProgressRenderer } from '../progress-renderer.js';

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

  --host POOL        a configured pool (id, label or URL); a new URL is added with
                     --username U --password-file F [--trust-fingerprint SHA256]
  --remote REMOTE    a configured remote (id or name), or an absolute folder path (added as a remote)
  --vm VM            a VM by name or uuid (repeat); --tag TAG: VMs with that tag; --pool: every VM
  --exclude VM       with --tag or --pool: leave this VM out (repeat)
  --schedule CRON    e.g. "0 2 * * *" (repeat for several); --keep N: points each schedule keeps (one
                     value for all, or one per schedule; default 7); --timezone TZ (default: this machine's)
  --run-missed       run a backup at start when one fell due while Sluice was not running
                     (default: only report it)
`;

type Values = Record<string, string | boolean | string[] | undefined>;

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

function parse(argv: string[], options: Options): { values: Values; positionals: string[] } {
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

function help(): number {
  process.stdout.write(jobsHelp);
  return 0;
}

async function call<T>(engine: NodeEngine, channel: string, payload: unknown): Promise<T> {
  const r = await engine.dispatcher.dispatch(channel, payload);
  if (!r.ok) throw new SluiceError(r.error.code, r.error.message, { hint: r.error.hint, context: r.error.context });
  return r.value as T;
}

export async function jobsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(jobsHelp);
    return sub === undefined ? 2 : 0;
  }
  const handlers: Record<string, (a: string[]) => Promise<number>> = {
    list: listJobs,
    add: addJob,
    run: runJob,
    history: jobHistory,
    summary: runSummary,
    remove: removeJob,
  };
  const h = handlers[sub];
  if (!h) throw new UsageError(`Unknown jobs command "${sub}" (list, add, run, history, summary, remove).`);
  return h(rest);
}

async function withEngine<T>(values: Values, fn: (e: NodeEngine) => Promise<T>): Promise<T> {
  const engine = createNodeEngine({ dataDir: values['data-dir'] as string | undefined, transport: 'websocket' });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`Name ${what} (exactly one).`);
  return positionals[0]!;
}

async function listJobs(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' } });
  if (values.help) return help();
  return withEngine(values, async (e) => {
    const jobs = await call<JobView[]>(e, 'jobs.list', {});
    if (values.json) {
      process.stdout.write(JSON.stringify(jobs) + '\n');
      return 0;
    }
    if (!jobs.length) process.stdout.write('No jobs yet. Add one with `npx sluice jobs add` (see --help).\n');
    for (const j of jobs) {
      const next = j.nextRuns[0] ? `next ${j.nextRuns[0].at}` : 'no schedule';
      const last = j.lastRun ? `last ${j.lastRun.status} at ${j.lastRun.startedAt}` : 'never run';
      process.stdout.write(
        `${j.name}  ${j.mode}  ${j.enabled ? '' : '(disabled)  '}${next}  ${last}${j.runningRunId ? '  RUNNING' : ''}\n`,
      );
    }
    return 0;
  });
}

async function removeJob(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return help();
  const name = one(positionals, 'the job to remove');
  return withEngine(values, async (e) => {
    const job = findByName(e, name);
    await call(e, 'jobs.remove', { id: job.id });
    process.stdout.write(`Removed job "${job.name}" (its backups stay on the remotes).\n`);
    return 0;
  });
}

function findByName(e: NodeEngine, name: string): Job {
  const jobs = e.ctx.settings.get().jobs;
  const job = jobs.find((j) => j.id === name) ?? jobs.find((j) => j.name.toLowerCase() === name.toLowerCase());
  if (!job) {
    throw new SluiceError('NOT_FOUND', `No job named "${name}".`, {
      hint: jobs.length
        ? `The jobs are: ${jobs.map((j) => `"${j.name}"`).join(', ')}.`
        : 'Create one first with `npx sluice jobs add`.',
    });
  }
  return job;
}

async function runJob(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
  if (values.help) return help();
  const name = one(positionals, 'the job to run');
  const json = values.json === true;
  const emit = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
  return withEngine(values, async (e) => {
    const renderer = json ? undefined : new ProgressRenderer();
    const say = (line: string) => (renderer ? renderer.log(line) : undefined);
    // Known once started; the engine's first lines come before that.
    const current: { runId?: string } = {};
    e.ctx.bus.on('backup.progress', (p) => {
      if (p.runId !== current.runId) return;
      if (json) emit({ type: 'progress', ...p });
      else renderer!.update(p);
    });
    e.ctx.bus.on('engine.log', (l) => {
      if (current.runId && l.context?.runId !== current.runId) return;
      if (json) emit({ type: 'log', ...l });
      else say(`${l.level === 'info' ? '' : `${l.level}: `}${l.message}`);
    });
    const started = await e.jobs.start(name, { trigger: 'manual' });
    current.runId = started.runId;
    if (json) emit({ type: 'started', runId: started.runId });
    const onSignal = () => e.jobs.cancel(started.runId);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let run: RunSummary;
    try {
      run = await started.done;
    } finally {
      renderer?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (json) emit({ type: 'finished', ...run });
    else process.stderr.write('\n' + formatRunSummary(run));
    return run.status === 'success' ? 0 : 1;
  });
}

async function jobHistory(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, limit: { type: 'string' } });
  if (values.help) return help();
  const name = one(positionals, 'the job');
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UsageError(`--limit takes a number from 1 to 1000, not "${values.limit}".`);
  return withEngine(values, async (e) => {
    const job = findByName(e, name);
    const runs = await call<RunSummary[]>(e, 'runs.list', { jobId: job.id, limit });
    if (values.json) {
      process.stdout.write(JSON.stringify(runs) + '\n');
      return 0;
    }
    if (!runs.length) process.stdout.write(`Job "${job.name}" has not run yet.\n`);
    for (const r of runs) {
      const dur = r.finishedAt
        ? formatDuration((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000)
        : 'running';
      const ok = r.vms.filter((v) => v.status === 'success').length;
      const why =
        r.status === 'success' ? '' : `  ${(r.vms.find((v) => v.error)?.error ?? r.errors[0])?.message ?? ''}`;
      process.stdout.write(
        `${r.startedAt}  ${r.status.padEnd(11)} ${r.trigger.padEnd(8)} ${dur.padStart(7)}  ${ok}/${r.vms.length} VMs  ${formatBytes(r.bytes)}  ${formatRate(r.averageBytesPerSec)}  ${r.runId}${why}\n`,
      );
    }
    return 0;
  });
}

async function runSummary(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string' } });
  if (values.help) return help();
  const target = one(positionals, 'a run id or a job');
  return withEngine(values, async (e) => {
    const byJob = e.ctx.settings
      .get()
      .jobs.find((j) => j.id === target || j.name.toLowerCase() === target.toLowerCase());
    let runId = target;
    if (byJob) {
      const last = (await call<RunSummary[]>(e, 'runs.list', { jobId: byJob.id, limit: 1 }))[0];
      if (!last)
        throw new SluiceError('NOT_FOUND', `Job "${byJob.name}" has not run yet.`, {
          hint: `Run it: npx sluice jobs run "${byJob.name}".`,
        });
      runId = last.runId;
    }
    const { text } = await call<{ text: string }>(e, 'runs.summary', { runId });
    if (values.out) {
      await fs.writeFile(path.resolve(values.out as string), text);
      process.stderr.write(`Summary written to ${path.resolve(values.out as string)}\n`);
    } else process.stdout.write(text);
    return 0;
  });
}

async function addJob(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    file: { type: 'string' },
    name: { type: 'string' },
    ...HOST_CONNECTION_OPTIONS,
    remote: { type: 'string', multiple: true },
    vm: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    pool: { type: 'boolean' },
    exclude: { type: 'string', multiple: true },
    mode: { type: 'string' },
    schedule: { type: 'string', multiple: true },
    keep: { type: 'string', multiple: true },
    timezone: { type: 'string' },
    compression: { type: 'string' },
    'vm-concurrency': { type: 'string' },
    'disk-concurrency': { type: 'string' },
    'speed-limit': { type: 'string' },
    'full-interval': { type: 'string' },
    'run-missed': { type: 'boolean' },
  });
  if (values.help) return help();
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  return withEngine(values, async (e) => {
    let input: Record<string, unknown>;
    if (values.file) {
      const text = await fs.readFile(values.file as string, 'utf8').catch((err) => {
        throw new UsageError(
          `Cannot read ${values.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
        );
      });
      try {
        input = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`${values.file} is not JSON: ${(err as Error).message}`);
      }
      if (typeof input.hostId === 'string') input.hostId = await hostIdFor(e, input.hostId, values);
      if (Array.isArray(input.remoteIds))
        input.remoteIds = await Promise.all(
          input.remoteIds.map((r) => (typeof r === 'string' ? remoteIdFor(e, r) : r)),
        );
    } else {
      input = await inputFromFlags(e, values);
    }
    const job = await call<Job>(e, 'jobs.save', input);
    const next = e.jobs.nextRuns(job)[0];
    process.stdout.write(
      `Saved job "${job.name}" (${job.id})${next ? `; next run ${next.at.toISOString()}` : '; no schedule: run it with `npx sluice jobs run`'}.\n`,
    );
    return 0;
  });
}

async function inputFromFlags(e: NodeEngine, v: Values): Promise<Record<string, unknown>> {
  for (const req of ['name', 'host'] as const)
    if (!v[req]) throw new UsageError(`--${req} is required (or give the whole job with --file).`);
  const remotes = (v.remote as string[] | undefined) ?? [];
  if (!remotes.length) throw new UsageError('Name at least one --remote.');
  const vmFlags = [v.vm ? '--vm' : '', v.tag ? '--tag' : '', v.pool ? '--pool' : ''].filter(Boolean);
  if (vmFlags.length !== 1)
    throw new UsageError('Choose the VMs with exactly one of --vm (repeat), --tag (repeat) or --pool.');
  if (v.exclude && v.vm) throw new UsageError('--exclude goes with --tag or --pool; with --vm, just leave the VM out.');
  const int = (flag: string, dflt?: number): number | undefined => {
    const raw = v[flag] as string | undefined;
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} takes a whole number, not "${raw}".`);
    return n;
  };
  const hostId = await hostIdFor(e, v.host as string, v);
  const isUuid = (n: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(n);
  // Names are looked up on the pool now (a job keeps uuids: a renamed VM stays in its job).
  const uuidsOf = async (names: string[], what: 'pick' | 'exclude'): Promise<string[]> => {
    if (names.every(isUuid)) return names;
    const { selected } = await resolveVms(await e.pools.session(hostId), names);
    return names.flatMap((n) => {
      if (isUuid(n)) return [n];
      const vm = selected.find((x) => x.name === n);
      if (vm) return [vm.uuid];
      // Only a VM tagged xo:no-bak is resolved yet not selected: already left out of every backup.
      if (what === 'exclude') return [];
      throw new SluiceError('VALIDATION', `The VM "${n}" is tagged xo:no-bak: Sluice does not back it up.`, {
        hint: 'Remove the tag on the pool first.',
      });
    });
  };
  const vms = v.vm
    ? { kind: 'vms', vmUuids: await uuidsOf(v.vm as string[], 'pick') }
    : v.tag
      ? {
          kind: 'tags',
          tags: v.tag,
          excludeVmUuids: await uuidsOf((v.exclude as string[] | undefined) ?? [], 'exclude'),
        }
      : { kind: 'pool', excludeVmUuids: await uuidsOf((v.exclude as string[] | undefined) ?? [], 'exclude') };
  const crons = (v.schedule as string[] | undefined) ?? [];
  const keeps = ((v.keep as string[] | undefined) ?? []).map((k) => {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`--keep takes a whole number of points (1 or more), not "${k}".`);
    return n;
  });
  if (keeps.length > 1 && keeps.length !== crons.length)
    throw new UsageError(`Give one --keep for all schedules, or one per --schedule (${crons.length}).`);
  const timezone = (v.timezone as string | undefined) ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  let speedLimit: number | null = null;
  if (v['speed-limit'] !== undefined) {
    speedLimit = parseSize(v['speed-limit'] as string);
    if (!speedLimit) throw new UsageError(`--speed-limit takes a rate like 50M, not "${v['speed-limit']}".`);
  }
  return {
    name: v.name,
    hostId,
    vms,
    ...(v.mode !== undefined ? { mode: v.mode } : {}),
    remoteIds: await Promise.all(remotes.map((r) => remoteIdFor(e, r))),
    schedules: crons.map((cron, i) => ({
      name: crons.length > 1 ? `schedule ${i + 1}` : 'default',
      cron,
      timezone,
      retention: { keep: keeps[i] ?? keeps[0] ?? 7 },
    })),
    ...(v.compression !== undefined ? { compression: v.compression } : {}),
    ...(v['vm-concurrency'] !== undefined ? { vmConcurrency: int('vm-concurrency') } : {}),
    ...(v['disk-concurrency'] !== undefined ? { diskConcurrency: int('disk-concurrency') } : {}),
    ...(v['full-interval'] !== undefined ? { fullInterval: int('full-interval') } : {}),
    speedLimitBytesPerSec: speedLimit,
    missedRuns: v['run-missed'] ? 'run-at-start' : 'report',
  };
}

/** A configured pool by id, label or URL; a new URL is added (login checked) when credentials are given. */
async function hostIdFor(e: NodeEngine, ref: string, v: Values): Promise<string> {
  const hosts = e.ctx.settings.get().hosts;
  const norm = (u: string) => u.replace(/\/+$/, '').replace(/^(?!https?:\/\/)/, 'https://');
  const found = hosts.find((h) => h.id === ref || h.label === ref || h.url === ref || h.url === norm(ref));
  if (found) return found.id;
  if (!v.username || !v['password-file']) {
    throw new SluiceError('NOT_FOUND', `No configured pool is "${ref}".`, {
      hint: hosts.length
        ? `Use one of: ${hosts.map((h) => `${h.label} (${h.url})`).join(', ')}; or add this one with --username and --password-file.`
        : 'Add it with --host URL --username U --password-file F [--trust-fingerprint SHA256].',
    });
  }
  const password = await readPasswordFile(v['password-file'] as string);
  const added = await call<{ id: string }>(e, 'hosts.add', {
    url: ref,
    username: v.username,
    password,
    ...(v['trust-fingerprint'] ? { trustedFingerprint: v['trust-fingerprint'] } : {}),
  });
  return added.id;
}

/** A configured remote by id or name; an absolute folder path not yet configured is added as a remote. */
async function remoteIdFor(e: NodeEngine, ref: string): Promise<string> {
  const remotes = e.ctx.settings.get().remotes;
  const found =
    remotes.find((r) => r.id === ref || r.name === ref) ??
    remotes.find((r) => path.resolve(r.path) === path.resolve(ref));
  if (found) return found.id;
  if (!path.isAbsolute(ref)) {
    throw new SluiceError('NOT_FOUND', `No configured remote is named "${ref}".`, {
      hint: remotes.length
        ? `Use one of: ${remotes.map((r) => r.name).join(', ')}; or give an absolute folder path to add one.`
        : 'Give an absolute folder path (e.g. /mnt/backups) to add it as a remote.',
    });
  }
  const name = remotes.some((r) => r.name === path.basename(ref)) ? ref : path.basename(ref) || ref;
  return (await call<{ id: string }>(e, 'remotes.add', { name, path: ref })).id;
}
