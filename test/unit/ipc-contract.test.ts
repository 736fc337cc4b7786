import { describe, expect, it } from 'vitest';
import { appChannels, appEvents } from '../../src-shared/contract/app.js';
import { backupsChannels, backupsEvents } from '../../src-shared/contract/backups.js';
import { dashboardChannels } from '../../src-shared/contract/dashboard.js';
import { hostsChannels, hostsEvents } from '../../src-shared/contract/hosts.js';
import { channelNames, eventNames } from '../../src-shared/contract/index.js';
import { inventoryChannels, inventoryEvents } from '../../src-shared/contract/inventory.js';
import { jobsChannels } from '../../src-shared/contract/jobs.js';
import { channelNameList, eventNameList } from '../../src-shared/contract/names.js';
import { pointsChannels, pointsEvents } from '../../src-shared/contract/points.js';
import { remotesChannels } from '../../src-shared/contract/remotes.js';
import { runsChannels, runsEvents } from '../../src-shared/contract/runs.js';
import { settingsChannels, settingsEvents } from '../../src-shared/contract/settings.js';
import { transfersEvents } from '../../src-shared/contract/transfers.js';

// The channel map is spread together from the domain files: a name declared in two of them would silently
// keep only the last schema, which the compile-time name check cannot see.
describe('IPC contract assembly', () => {
  it('takes each channel from exactly one domain', () => {
    const parts = [
      appChannels,
      settingsChannels,
      hostsChannels,
      inventoryChannels,
      backupsChannels,
      remotesChannels,
      jobsChannels,
      runsChannels,
      dashboardChannels,
      pointsChannels,
    ];
    const declared = parts.flatMap((p) => Object.keys(p));
    expect(declared).toHaveLength(new Set(declared).size);
    expect(new Set(declared)).toEqual(new Set(channelNames));
    expect(new Set(channelNames)).toEqual(new Set(channelNameList));
  });

  it('takes each event from exactly one domain', () => {
    const parts = [
      appEvents,
      inventoryEvents,
      hostsEvents,
      backupsEvents,
      transfersEvents,
      settingsEvents,
      runsEvents,
      pointsEvents,
    ];
    const declared = parts.flatMap((p) => Object.keys(p));
    expect(declared).toHaveLength(new Set(declared).size);
    expect(new Set(declared)).toEqual(new Set(eventNames));
    expect(new Set(eventNames)).toEqual(new Set(eventNameList));
  });
});
