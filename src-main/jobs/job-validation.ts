import { randomUUID } from 'node:crypto';
import type { jobInputSchema } from '../../src-shared/contract/jobs.js';
import { jobSchema, type Job } from '../../src-shared/contract/jobs.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Settings } from '../settings/settings-schema.js';
import { cronProblems } from './cron-schedule.js';

type ParsedInput = ReturnType<typeof jobInputSchema.parse>;

/**
 * The checks of a job that need the engine's knowledge: patterns croner can read, real time zones, a
 * configured pool and remotes, a name no other job has. Every problem names its field, as the contract's
 * own validation does, so the form can point at it.
 */
export function validateJob(input: ParsedInput, settings: Settings, now: Date): Job {
  const issues: Array<{ path: string; message: string }> = [];
  const others = settings.jobs.filter((j) => j.id !== input.id);
  const existing = input.id ? settings.jobs.find((j) => j.id === input.id) : undefined;
  if (input.id && !existing)
    issues.push({
      path: 'id',
      message: `No job with id ${input.id} exists (it may have been removed); save it as a new job`,
    });
  if (others.some((j) => j.name.toLowerCase() === input.name.toLowerCase()))
    issues.push({ path: 'name', message: `Another job is already named "${input.name}"` });
  if (input.mirrorFrom !== undefined) issues.push(...mirrorProblems(input, settings));
  else if (!settings.hosts.some((h) => h.id === input.hostId))
    issues.push({ path: 'hostId', message: 'That pool is not configured in Sluice; add it under Hosts first' });
  input.remoteIds.forEach((rid, i) => {
    if (!settings.remotes.some((r) => r.id === rid))
      issues.push({ path: `remoteIds.${i}`, message: `Unknown remote "${rid}"; add it under Remotes first` });
    else if (input.remoteIds.indexOf(rid) !== i)
      issues.push({ path: `remoteIds.${i}`, message: 'This remote is listed twice' });
  });
  if (input.mirrorFrom === undefined && input.mode === 'delta' && input.compression !== 'none') {
    issues.push({
      path: 'compression',
      message: 'Host-side compression applies to full backups only (incremental VHDs are not compressed by the host)',
    });
  }
  const scheduleIds = new Set<string>();
  const schedules = input.schedules.map((s, i) => {
    for (const problem of cronProblems(s.cron, s.timezone))
      issues.push({ path: `schedules.${i}.${problem.field}`, message: problem.message });
    const sid = s.id ?? randomUUID();
    if (scheduleIds.has(sid)) issues.push({ path: `schedules.${i}.id`, message: 'Two schedules have the same id' });
    scheduleIds.add(sid);
    return { ...s, id: sid };
  });
  if (issues.length > 0) {
    throw new SluiceError(
      'VALIDATION',
      `The job "${input.name}" cannot be saved: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}.`,
      {
        hint: 'Correct the highlighted fields and save again.',
        issues,
        context: { job: input.name },
      },
    );
  }
  const stamp = now.toISOString();
  return jobSchema.parse({
    ...input,
    id: input.id ?? randomUUID(),
    schedules,
    createdAt: existing?.createdAt ?? stamp,
    updatedAt: stamp,
  });
}

/** A mirror job copies between remotes: its source is one, its targets others, and it has no pool. */
function mirrorProblems(input: ParsedInput, settings: Settings): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  if (!settings.remotes.some((r) => r.id === input.mirrorFrom))
    issues.push({ path: 'mirrorFrom', message: `Unknown remote "${input.mirrorFrom}"; add it under Remotes first` });
  const i = input.remoteIds.indexOf(input.mirrorFrom!);
  if (i >= 0) issues.push({ path: `remoteIds.${i}`, message: 'A mirror copies to other remotes than its source' });
  if (input.hostId !== undefined)
    issues.push({ path: 'hostId', message: 'A mirror job copies between remotes: it takes no pool' });
  if (input.vms.kind === 'tags')
    issues.push({
      path: 'vms',
      message: "A mirror picks VMs among the source's backups, by VM or all of them: tags are a pool's",
    });
  if (input.compression !== 'none')
    issues.push({ path: 'compression', message: 'A mirror copies points as they are: it takes no compression' });
  return issues;
}

/** A job by id, or by name (case-insensitive), as the CLI and run-now accept it. */
export function findJob(jobs: Job[], idOrName: string): Job {
  const job = jobs.find((j) => j.id === idOrName) ?? jobs.find((j) => j.name.toLowerCase() === idOrName.toLowerCase());
  if (!job) {
    throw new SluiceError('NOT_FOUND', `No job named "${idOrName}".`, {
      hint: jobs.length
        ? `The jobs are: ${jobs.map((j) => `"${j.name}"`).join(', ')}.`
        : 'Create one first (in the app, or with `npx sluice jobs add`).',
      context: { job: idOrName },
    });
  }
  return job;
}
