import { z } from 'zod';

/** The app itself and the engine's own state. */

export const appChannels = {
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
} as const;

export const appEvents = {
  /** The engine's own state, sent on connect and whenever it changes. */
  'engine.status': z.object({ state: z.enum(['starting', 'ready', 'stopping']), at: z.string() }),
  /** A line of the engine's log meant for the user. */
  'engine.log': z.object({
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    at: z.string(),
    context: z.record(z.string(), z.string()).optional(),
  }),
} as const;
