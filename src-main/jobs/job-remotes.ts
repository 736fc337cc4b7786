import type { Job } from '../../src-shared/contract/jobs.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Settings } from '../settings/settings-schema.js';
import type { RunRecorder } from './run-recorder.js';

export type ConfiguredRemote = Settings['remotes'][number];

/** The job's remotes that are still in the settings; the missing ones are an error of the run. */
export function configuredRemotes(job: Job, settings: Settings, recorder: RunRecorder): ConfiguredRemote[] {
  const remotes = job.remoteIds.map((id) => settings.remotes.find((r) => r.id === id));
  const known = remotes.filter((r): r is NonNullable<typeof r> => r !== undefined);
  if (known.length < remotes.length) {
    recorder.error(
      new SluiceError('NOT_FOUND', `${remotes.length - known.length} of the job's remotes are no longer configured.`, {
        hint: 'Edit the job and pick its remotes again.',
        context: { job: job.name },
      }),
    );
  }
  return known;
}
