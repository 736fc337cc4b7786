import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Job } from '../../../src-shared/contract/jobs.js';
import { resolveVms } from '../../backup/vm-selection.js';
import type { NodeEngine } from '../../engine/engine-node.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { parseSize } from '../../../src-shared/units.js';
import { checkRemoteLocation, openExistingRemote } from '../../remotes/remote-registry.js';
import { listBackupPoints } from '../../repository/index.js';
import { credentialsFromEnv } from '../../remotes/s3-remote.js';
import { formatS3Location, isS3Location, parseS3Location } from '../../remotes/s3-location.js';
import { UsageError } from '../cli-errors.js';
import { readPasswordFile, HOST_CONNECTION_OPTIONS } from '../host-connection.js';
import { call, help, parse, withEngine, type Values } from './jobs-command-base.js';
import { jobsAddRefusal } from './jobs-add-issues.js';

// `sluice jobs add`: a job from a JSON file (the jobs.save shape) or from flags, its pool and remotes named as
// an admin names them (and added when new).

export async function addJob(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    file: { type: 'string' },
    name: { type: 'string' },
    ...HOST_CONNECTION_OPTIONS,
    remote: { type: 'string', multiple: true },
    'mirror-from': { type: 'string' },
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
      if (typeof input.mirrorFrom === 'string') input.mirrorFrom = await remoteIdFor(e, input.mirrorFrom);
      if (Array.isArray(input.remoteIds))
        input.remoteIds = await Promise.all(
          input.remoteIds.map((r) => (typeof r === 'string' ? remoteIdFor(e, r) : r)),
        );
    } else {
      input = await inputFromFlags(e, values);
    }
    const job = await call<Job>(e, 'jobs.save', input).catch((err: unknown) => {
      const name = typeof input.name === 'string' ? input.name : undefined;
      const many = (flag: string) => ((values[flag] as string[] | undefined) ?? []).length;
      const counts = { schedules: many('schedule'), remotes: many('remote') };
      throw jobsAddRefusal(err, name, values.file ? { file: values.file as string } : { counts });
    });
    const next = e.jobs.nextRuns(job)[0];
    process.stdout.write(
      `Saved job "${job.name}" (${job.id})${next ? `; next run ${next.at.toISOString()}` : '; no schedule: run it with `npx sluice jobs run`'}.\n`,
    );
    return 0;
  });
}

async function inputFromFlags(e: NodeEngine, v: Values): Promise<Record<string, unknown>> {
  if (v['mirror-from'] !== undefined) return mirrorInputFromFlags(e, v);
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
    schedules: schedulesFromFlags(v),
    ...(v.compression !== undefined ? { compression: v.compression } : {}),
    ...(v['vm-concurrency'] !== undefined ? { vmConcurrency: int('vm-concurrency') } : {}),
    ...(v['disk-concurrency'] !== undefined ? { diskConcurrency: int('disk-concurrency') } : {}),
    ...(v['full-interval'] !== undefined ? { fullInterval: int('full-interval') } : {}),
    speedLimitBytesPerSec: speedLimit,
    missedRuns: v['run-missed'] ? 'run-at-start' : 'report',
  };
}

/** The --schedule, --keep and --timezone flags as the job's schedules. */
function schedulesFromFlags(v: Values): Array<Record<string, unknown>> {
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
  return crons.map((cron, i) => ({
    name: crons.length > 1 ? `schedule ${i + 1}` : 'default',
    cron,
    timezone,
    retention: { keep: keeps[i] ?? keeps[0] ?? 7 },
  }));
}

/**
 * A mirror job from flags: --mirror-from the source remote, --remote the targets, --vm (names or uuids, among
 * the source's backups) or --pool for all, --mode which points; no pool, no host-side options.
 */
async function mirrorInputFromFlags(e: NodeEngine, v: Values): Promise<Record<string, unknown>> {
  if (!v.name) throw new UsageError('--name is required (or give the whole job with --file).');
  for (const flag of ['host', 'tag', 'compression', 'disk-concurrency', 'full-interval'])
    if (v[flag] !== undefined)
      throw new UsageError(`--${flag} does not go with --mirror-from: a mirror copies points between remotes.`);
  const remotes = (v.remote as string[] | undefined) ?? [];
  if (!remotes.length) throw new UsageError('Name at least one --remote to copy to.');
  if (!v.vm === !v.pool) throw new UsageError('Choose the VMs with exactly one of --vm (repeat) or --pool.');
  const mirrorFrom = await remoteIdFor(e, v['mirror-from'] as string);
  let vms: Record<string, unknown> = { kind: 'pool', excludeVmUuids: [] };
  if (v.vm) {
    const source = e.ctx.settings.get().remotes.find((r) => r.id === mirrorFrom)!;
    const { points } = await listBackupPoints(await openExistingRemote(source.path));
    const uuids = (v.vm as string[]).map((n) => {
      const p = points.find((x) => x.vmUuid === n || x.vmName === n);
      if (!p)
        throw new SluiceError('NOT_FOUND', `The remote ${source.name} holds no backup of a VM named "${n}".`, {
          hint: `Run \`npx sluice list --remote ${source.path}\` to see the VMs it holds.`,
        });
      return p.vmUuid;
    });
    vms = { kind: 'vms', vmUuids: [...new Set(uuids)] };
  }
  return {
    name: v.name,
    mirrorFrom,
    vms,
    ...(v.mode !== undefined ? { mode: v.mode } : {}),
    remoteIds: await Promise.all(remotes.map((r) => remoteIdFor(e, r))),
    schedules: schedulesFromFlags(v),
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

/** A configured remote by id, name or location; a full location not yet configured is added as a remote. */
async function remoteIdFor(e: NodeEngine, ref: string): Promise<string> {
  const remotes = e.ctx.settings.get().remotes;
  const bare = (location: string) => location.replace(/(.)[\\/]+$/, '$1');
  // An S3 location is compared in its one canonical form, as it is saved.
  const canonical = isS3Location(ref) ? formatS3Location(parseS3Location(ref)) : bare(ref);
  const found = remotes.find((r) => r.id === ref || r.name === ref || bare(r.path) === canonical);
  if (found) return found.id;
  if (!isRemoteLocation(ref)) {
    throw new SluiceError('NOT_FOUND', `No configured remote is named "${ref}".`, {
      hint: remotes.length
        ? `Use one of: ${remotes.map((r) => r.name).join(', ')}; or give an absolute folder path to add one.`
        : 'Give an absolute folder path (e.g. /mnt/backups) to add it as a remote.',
    });
  }
  if (isS3Location(ref)) return (await call<{ id: string }>(e, 'remotes.add', s3RemoteRequest(ref, remotes))).id;
  const name = remotes.some((r) => r.name === path.basename(ref)) ? ref : path.basename(ref) || ref;
  return (await call<{ id: string }>(e, 'remotes.add', { name, path: ref })).id;
}

/**
 * An S3 --remote not yet saved: saved with the keys of the environment, as `sluice backup` takes them (the
 * secret key then lives in the data folder's secret store, so the daemon's runs need no environment).
 */
function s3RemoteRequest(ref: string, remotes: ReadonlyArray<{ name: string }>) {
  const loc = parseS3Location(ref);
  const keys = credentialsFromEnv();
  if (!keys)
    throw new SluiceError('VALIDATION', `No keys for the S3 remote ${formatS3Location(loc)}.`, {
      hint: 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the remote is saved with them.',
    });
  const short = loc.prefix ? `${loc.bucket}/${loc.prefix}` : loc.bucket;
  return {
    name: remotes.some((r) => r.name === short) ? formatS3Location(loc) : short,
    kind: 's3' as const,
    s3: {
      ...(loc.endpoint !== undefined ? { endpoint: loc.endpoint } : {}),
      bucket: loc.bucket,
      prefix: loc.prefix,
      region: loc.region,
      pathStyle: loc.pathStyle,
      ...keys,
    },
  };
}

/** Whether a --remote that names no configured remote is a location the engine would save (the UI's rule). */
function isRemoteLocation(ref: string): boolean {
  try {
    checkRemoteLocation(ref);
    return true;
  } catch {
    return false;
  }
}
