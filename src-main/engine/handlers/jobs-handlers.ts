import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { JobsService } from '../../jobs/jobs-service.js';

export function jobsHandlers(
  jobs: JobsService,
): Pick<
  Handlers,
  | 'jobs.list'
  | 'jobs.save'
  | 'jobs.remove'
  | 'jobs.runNow'
  | 'runs.cancel'
  | 'runs.list'
  | 'runs.get'
  | 'runs.summary'
  | 'dashboard.get'
> {
  return {
    'jobs.list': () => jobs.list(),
    'jobs.save': (input) => jobs.save(input),
    'jobs.remove': async ({ id }) => ({ removed: await jobs.remove(id) }),
    'jobs.runNow': async ({ id, scheduleId }) => {
      const { runId } = await jobs.start(id, { trigger: 'manual', ...(scheduleId ? { scheduleId } : {}) });
      return { runId };
    },
    'runs.cancel': async ({ runId }) => ({ cancelled: jobs.cancel(runId) }),
    'runs.list': ({ jobId, limit }) => jobs.runs({ ...(jobId ? { jobId } : {}), limit }),
    'runs.get': async ({ runId }) => {
      await jobs.init();
      return jobs.history.get(runId);
    },
    'runs.summary': ({ runId }) => jobs.summary(runId),
    'dashboard.get': () => jobs.dashboard(),
  };
}
