import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Job, JobView } from '../../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../../src-shared/contract/runs.js';
import type { NodeEngine } from '../../engine/engine-node.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { formatRunSummary } from '../../jobs/run-summary-text.js';
import { UsageError } from '../cli-errors.js';
import { formatBytes, formatDuration, formatRate } from '../../../src-shared/units.js';
import { ProgressRenderer } from '../progress-renderer.js';
import { addJob } from './jobs-add-command.js';
import { call, help, jobsHelp, one, parse, withEngine } from './jobs-command-base.js';

export { jobsHelp };

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
        `${j.name}  ${j.mirrorFrom !== undefined ? `mirror(${j.mode})` : j.mode}  ${j.enabled ? '' : '(disabled)  '}${next}  ${last}${j.runningRunId ? '  RUNNING' : ''}\n`,
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
