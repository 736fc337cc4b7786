/**
 * The names of the contract's channels and events, without their schemas, so the Electron preload can hold
 * its allowlist without bundling zod. index.ts is checked against these lists at compile time.
 */
export const channelNameList = [
  'app.info',
  'app.ping',
  'settings.getPreferences',
  'settings.updatePreferences',
  'hosts.list',
  'hosts.add',
  'hosts.remove',
  'hosts.approveCertificate',
  'hosts.probe',
  'hosts.connectionStates',
  'inventory.get',
  'backup.start',
  'backup.cancel',
  'remotes.test',
  'remotes.list',
  'remotes.add',
  'remotes.remove',
  'remotes.usage',
  'backups.list',
  'jobs.list',
  'jobs.save',
  'jobs.remove',
  'jobs.runNow',
  'runs.cancel',
  'runs.list',
  'runs.get',
  'runs.summary',
  'dashboard.get',
  'points.restore',
  'points.restoreDisk',
  'points.export',
  'points.verify',
  'points.delete',
  'points.disks',
  'operations.cancel',
] as const;

export const eventNameList = [
  'engine.status',
  'engine.log',
  'inventory.changed',
  'hosts.connection',
  'backup.finished',
  'backup.progress',
  'settings.changed',
  'runs.started',
  'runs.finished',
  'notification',
  'operations.finished',
] as const;

export type ChannelNameFromList = (typeof channelNameList)[number];
export type EventNameFromList = (typeof eventNameList)[number];

const channelSet: ReadonlySet<string> = new Set(channelNameList);
const eventSet: ReadonlySet<string> = new Set(eventNameList);

export function isChannelName(name: unknown): name is ChannelNameFromList {
  return typeof name === 'string' && channelSet.has(name);
}
export function isEventName(name: unknown): name is EventNameFromList {
  return typeof name === 'string' && eventSet.has(name);
}
