import type { z } from 'zod';
import { appChannels, appEvents } from './app.js';
import { backupsChannels, backupsEvents } from './backups.js';
import { dashboardChannels } from './dashboard.js';
import { hostsChannels, hostsEvents } from './hosts.js';
import { inventoryChannels, inventoryEvents } from './inventory.js';
import { jobsChannels } from './jobs.js';
import type { ChannelNameFromList, EventNameFromList } from './names.js';
import { pointsChannels, pointsEvents } from './points.js';
import { remotesChannels } from './remotes.js';
import { runsChannels, runsEvents } from './runs.js';
import { settingsChannels, settingsEvents } from './settings.js';
import { transfersEvents } from './transfers.js';

/**
 * The one IPC contract between the UI and the engine, whatever carries it (Electron IPC or the loopback
 * WebSocket). Every request channel names its request schema (validated in the engine) and its response
 * schema; every event names its payload schema. Each domain declares its channels and events in its own file;
 * they are assembled here, and a new one is also named in names.ts (the preload's allowlist, checked below).
 */

export const channels = {
  ...appChannels,
  ...settingsChannels,
  ...hostsChannels,
  ...inventoryChannels,
  ...backupsChannels,
  ...remotesChannels,
  ...jobsChannels,
  ...runsChannels,
  ...dashboardChannels,
  ...pointsChannels,
} as const;

export const events = {
  ...appEvents,
  ...inventoryEvents,
  ...hostsEvents,
  ...backupsEvents,
  ...transfersEvents,
  ...settingsEvents,
  ...runsEvents,
  ...pointsEvents,
} as const;

export type Channels = typeof channels;
export type ChannelName = keyof Channels;
export type RequestOf<C extends ChannelName> = z.input<Channels[C]['request']>;
export type ParsedRequestOf<C extends ChannelName> = z.output<Channels[C]['request']>;
export type ResponseOf<C extends ChannelName> = z.infer<Channels[C]['response']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.infer<Events[E]>;

export const channelNames = Object.keys(channels) as ChannelName[];
export const eventNames = Object.keys(events) as EventName[];

// Compile-time proof that the name lists (used by the preload) and the schemas name the same things.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _channelsMatch: Same<ChannelName, ChannelNameFromList> = true;
const _eventsMatch: Same<EventName, EventNameFromList> = true;
void _channelsMatch;
void _eventsMatch;
