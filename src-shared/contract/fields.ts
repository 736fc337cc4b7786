import { z } from 'zod';

/** An id as the settings store them (hosts, remotes, jobs, schedules, runs, operations). */
export const id = z.string().min(1).max(200);
