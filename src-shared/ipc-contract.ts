import { z } from 'zod';
import type { ChannelNameFromList, EventNameFromList } from './ipc-names.js';

export { isChannelName, isEventName } from './ipc-names.js';

/**
 * The one IPC contract between the UI and the engine, whatever carries it (Electron IPC or the loopback
 * WebSocket). Every request channel names its request schema (validated in the engine) and its response
 * schema; every event names its payload schema. Add channels here and nowhere else.
 */

const id = z.string().min(1).max(200);

export const themeSchema = z.enum(['system', 'light', 'dark']);

export const preferencesSchema = z.object({
  theme: themeSchema,
  spoolDir: z.string().nullable(),
  spoolCapBytes: z.number().int().positive(),
  memoryBufferBytes: z.number().int().positive(),
  defaultSpeedLimitBytesPerSec: z.number().int().positive().nullable(),
  notifyOnSuccess: z.boolean(),
  notifyOnFailure: z.boolean(),
});
export type Preferences = z.infer<typeof preferencesSchema>;

export const hostSummarySchema = z.object({
  id,
  label: z.string(),
  url: z.string(),
  username: z.string(),
  /** SHA-256 of the certificate the user approved (trust on first use); null for plain HTTP. */
  trustedFingerprint: z.string().nullable(),
  hasPassword: z.boolean(),
});
export type HostSummary = z.infer<typeof hostSummarySchema>;

export const remoteSummarySchema = z.object({
  id,
  name: z.string(),
  kind: z.literal('folder'),
  path: z.string(),
});
export type RemoteSummary = z.infer<typeof remoteSummarySchema>;

const hostUrl = z
  .string()
  .trim()
  .min(1, 'Enter the pool address, e.g. https://xcp-host.example')
  .refine((s) => {
    try {
      const u = new URL(/^[a-z]+:\/\//i.test(s) ? s : `https://${s}`);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'Not a host address: use https://host or host[:port]');

export const channels = {
  'app.info': {
    request: z.object({}).strict(),
    response: z.object({
      name: z.literal('Sluice'),
      version: z.string(),
      transport: z.enum(['electron', 'websocket']),
      platform: z.string(),
      startedAt: z.string(),
      dataDir: z.string(),
    }),
  },
  'app.ping': {
    request: z.object({ nonce: z.string().max(100) }).strict(),
    response: z.object({ nonce: z.string(), at: z.string() }),
  },
  'settings.getPreferences': {
    request: z.object({}).strict(),
    response: preferencesSchema,
  },
  'settings.updatePreferences': {
    request: preferencesSchema.partial().strict(),
    response: preferencesSchema,
  },
  'hosts.list': {
    request: z.object({}).strict(),
    response: z.array(hostSummarySchema),
  },
  'hosts.add': {
    request: z
      .object({
        label: z.string().trim().max(100).optional(),
        url: hostUrl,
        username: z.string().trim().min(1, 'Enter the username (often root)').max(200),
        password: z.string().min(1, 'Enter the password').max(1000),
        trustedFingerprint: z.string().max(200).optional(),
      })
      .strict(),
    response: hostSummarySchema,
  },
  'hosts.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  'remotes.list': {
    request: z.object({}).strict(),
    response: z.array(remoteSummarySchema),
  },
  'remotes.add': {
    request: z
      .object({
        name: z.string().trim().min(1, 'Give the remote a name').max(100),
        path: z.string().trim().min(1, 'Enter a folder path').max(4096),
      })
      .strict(),
    response: remoteSummarySchema,
  },
  'remotes.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
} as const;

export const events = {
  /** The engine's own state, sent on connect and whenever it changes. */
  'engine.status': z.object({ state: z.enum(['starting', 'ready', 'stopping']), at: z.string() }),
  /** A line of the engine's log meant for the user. */
  'engine.log': z.object({
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    at: z.string(),
    context: z.record(z.string(), z.string()).optional(),
  }),
  /** Something in the persisted settings changed (hosts, remotes, jobs, preferences). */
  'settings.changed': z.object({ section: z.enum(['hosts', 'remotes', 'jobs', 'preferences']) }),
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
