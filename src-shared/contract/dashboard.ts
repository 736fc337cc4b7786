import { z } from 'zod';
import { runSummarySchema } from './runs.js';

export const dashboardSchema = z.object({
  generatedAt: z.string(),
  vms: z.object({
    protected: z.array(
      z.object({
        vmUuid: z.string(),
        vmName: z.string(),
        /** The newest committed point on any configured remote. */
        lastGoodPoint: z.object({
          pointId: z.string(),
          at: z.string(),
          mode: z.enum(['full', 'delta']),
          jobId: z.string(),
          jobName: z.string().nullable(),
          remoteId: z.string(),
        }),
      }),
    ),
    unprotected: z.array(z.object({ vmUuid: z.string(), vmName: z.string(), hostId: z.string(), reason: z.string() })),
  }),
  lastRuns: z.array(runSummarySchema),
  nextRuns: z.array(
    z.object({
      jobId: z.string(),
      jobName: z.string(),
      scheduleId: z.string(),
      scheduleName: z.string(),
      /** The schedule's zone, which its times are shown in. */
      timezone: z.string(),
      at: z.string(),
    }),
  ),
  remotes: z.array(
    z.object({
      remoteId: z.string(),
      name: z.string(),
      path: z.string(),
      /** Bytes of the committed points (their metadata's sizes). */
      usedBytes: z.number(),
      points: z.number().int(),
      freeBytes: z.number().nullable(),
      totalBytes: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
  /** Pools whose inventory could not be read (their VMs are known only from backups). */
  unreachableHosts: z.array(z.object({ hostId: z.string(), label: z.string(), error: z.string() })),
});
export type Dashboard = z.infer<typeof dashboardSchema>;

export const dashboardChannels = {
  'dashboard.get': {
    request: z.object({}).strict(),
    response: dashboardSchema,
  },
} as const;
