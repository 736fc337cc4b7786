import { z } from 'zod';
import { ipcErrorSchema } from '../../src-shared/contract/errors.js';
import { settingsSchema } from '../settings/settings-schema.js';

/**
 * Messages between a process that hosts the UI (Electron's main process) and the engine running in its own
 * isolated process (a utilityProcess). The UI's calls go one way; the engine asks its host for the things only
 * the host may touch (electron-store, safeStorage) the other way.
 */
export const toEngineSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('init'), settings: settingsSchema, dataDir: z.string(), version: z.string() }),
  z.object({ kind: z.literal('invoke'), id: z.number(), channel: z.unknown(), payload: z.unknown() }),
  z.object({
    kind: z.literal('host-result'),
    id: z.number(),
    ok: z.boolean(),
    value: z.unknown().optional(),
    error: z.string().optional(),
  }),
  z.object({ kind: z.literal('shutdown') }),
]);
export type ToEngine = z.infer<typeof toEngineSchema>;

export const hostServiceCallSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('settings.write'), settings: settingsSchema }),
  z.object({ method: z.literal('secrets.get'), id: z.string() }),
  z.object({ method: z.literal('secrets.set'), id: z.string(), value: z.string() }),
  z.object({ method: z.literal('secrets.delete'), id: z.string() }),
]);
export type HostServiceCall = z.infer<typeof hostServiceCallSchema>;

export const fromEngineSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ready') }),
  z.object({
    kind: z.literal('result'),
    id: z.number(),
    result: z.union([
      z.object({ ok: z.literal(true), value: z.unknown() }),
      z.object({ ok: z.literal(false), error: ipcErrorSchema }),
    ]),
  }),
  z.object({ kind: z.literal('event'), event: z.string(), payload: z.unknown() }),
  z.object({ kind: z.literal('host-call'), id: z.number(), call: hostServiceCallSchema }),
]);
export type FromEngine = z.infer<typeof fromEngineSchema>;

/** The least a message port must offer; Electron's parentPort and Node's worker MessagePort both fit. */
export interface PortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}
