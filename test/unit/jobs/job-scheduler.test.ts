import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../src-shared/contract/jobs.js';
import { JobScheduler, type ScheduledFire } from '../../../src-main/jobs/job-scheduler.js';
import { SchedulerState } from '../../../src-main/jobs/scheduler-state.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { tempDirs } from '../../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

function job(over: Partial<Job> = {}, cron = '0 2 * * *', timezone = 'UTC'): Job {
  return {
    id: 'job-1',
    name: 'nightly',
    hostId: 'h',
    vms: { kind: 'pool', excludeVmUuids: [] },
    mode: 'delta',
    remoteIds: ['r'],
    schedules: [{ id: 's1', name: 'daily', cron, timezone, enabled: true, retention: { keep: 7 } }],
    compression: 'none',
    vmConcurrency: 2,
    diskConcurrency: 1,
    speedLimitBytesPerSec: null,
    fullInterval: 0,
    missedRuns: 'report',
    enabled: true,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...over,
  };
}

async function scheduler(clock: FakeClock, jobs: () => Job[], dataDir = temp()) {
  const fires: ScheduledFire[] = [];
  const state = new SchedulerState(dataDir);
  await state.load();
  const s = new JobScheduler({ clock, state, jobs, onFire: (f) => fires.push(f) });
  return { s, fires, state, dataDir };
}

describe('job scheduler (fake clock)', () => {
  it("fires at the schedule's times and not before", async () => {
    const clock = new FakeClock('2025-01-01T00:00:00Z');
    const { s, fires } = await scheduler(clock, () => [job()]);
    s.start();
    clock.advance(2 * 3600_000 - 1000);
    expect(fires).toHaveLength(0);
    clock.advance(1000);
    expect(fires).toHaveLength(1);
    expect(fires[0]).toMatchObject({ kind: 'on-time', alsoMissed: 0 });
    expect(fires[0]!.scheduledFor.toISOString()).toBe('2025-01-01T02:00:00.000Z');
    clock.advance(3 * 24 * 3600_000);
    expect(fires.map((f) => f.scheduledFor.toISOString())).toEqual([
      '2025-01-01T02:00:00.000Z',
      '2025-01-02T02:00:00.000Z',
      '2025-01-03T02:00:00.000Z',
      '2025-01-04T02:00:00.000Z',
    ]);
    expect(fires.every((f) => f.kind === 'on-time')).toBe(true);
    s.stop();
    expect(clock.pending()).toBe(0);
  });

  it("reads the pattern in the schedule's time zone", async () => {
    const clock = new FakeClock('2025-01-01T00:00:00Z');
    const { s, fires } = await scheduler(clock, () => [job({}, '0 2 * * *', 'America/New_York')]);
    s.start();
    clock.advance(24 * 3600_000);
    // 02:00 in New York in January is 07:00 UTC.
    expect(fires.map((f) => f.scheduledFor.toISOString())).toEqual(['2025-01-01T07:00:00.000Z']);
    s.stop();
  });

  it('finds the runs that fell due while it was not running, collapsed into one missed fire', async () => {
    const clock = new FakeClock('2025-01-01T00:00:00Z');
    const dataDir = temp();
    const first = await scheduler(clock, () => [job()], dataDir);
    first.s.start();
    clock.advance(3 * 3600_000); // 02:00 on the 1st fired
    first.s.stop();
    await first.state.save();
    expect(first.fires).toHaveLength(1);

    clock.jump(3 * 24 * 3600_000); // closed for three days: 02:00 on the 2nd, 3rd and 4th were missed
    const second = await scheduler(clock, () => [job()], dataDir);
    second.s.start();
    expect(second.fires).toHaveLength(1);
    expect(second.fires[0]).toMatchObject({ kind: 'missed', alsoMissed: 2 });
    expect(second.fires[0]!.scheduledFor.toISOString()).toBe('2025-01-04T02:00:00.000Z');
    // And then on time again.
    clock.advance(24 * 3600_000);
    expect(second.fires.map((f) => f.kind)).toEqual(['missed', 'on-time']);
    second.s.stop();
  });

  it("counts a new schedule from the job's last save, and an edited pattern afresh", async () => {
    const clock = new FakeClock('2025-01-10T12:00:00Z');
    let j = job({ updatedAt: '2025-01-10T03:00:00.000Z' });
    const { s, fires } = await scheduler(clock, () => [j]);
    s.start();
    expect(fires).toHaveLength(0); // saved after today's 02:00: nothing missed
    j = job({ updatedAt: '2025-01-10T12:00:00.000Z' }, '30 12 * * *');
    s.reschedule();
    clock.advance(30 * 60_000);
    expect(fires.map((f) => f.scheduledFor.toISOString())).toEqual(['2025-01-10T12:30:00.000Z']);
    s.stop();
  });

  it('fires nothing for a disabled job or schedule', async () => {
    const clock = new FakeClock('2025-01-01T00:00:00Z');
    const disabledSchedule = job();
    disabledSchedule.schedules[0]!.enabled = false;
    const { s, fires } = await scheduler(clock, () => [job({ enabled: false, id: 'j2' }), disabledSchedule]);
    s.start();
    clock.advance(3 * 24 * 3600_000);
    expect(fires).toHaveLength(0);
    s.stop();
  });

  it('notices a clock that jumped while its timer ran (it never sleeps more than a minute)', async () => {
    const clock = new FakeClock('2025-01-01T00:00:00Z');
    const { s, fires } = await scheduler(clock, () => [job()]);
    s.start();
    clock.jump(2 * 3600_000); // the wall clock is now 02:00; a timer set for 02:00 would still wait 2 hours
    clock.advance(60_000);
    expect(fires).toHaveLength(1);
    expect(fires[0]).toMatchObject({ kind: 'on-time' });
    s.stop();
  });
});
