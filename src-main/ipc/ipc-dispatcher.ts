import { channels, type ChannelName, type ParsedRequestOf, type ResponseOf } from '../../src-shared/contract/index.js';
import { isChannelName } from '../../src-shared/contract/names.js';
import type { IpcResult } from '../../src-shared/contract/errors.js';
import { toIpcError } from '../errors/sluice-error.js';

export type Handlers = { [C in ChannelName]: (request: ParsedRequestOf<C>) => Promise<ResponseOf<C>> };

const MAX_ISSUES = 20;

/**
 * The single entry point of every IPC call, whatever the transport. Nothing from outside reaches a handler
 * unvalidated, and nothing a handler throws escapes as anything but a typed error: a malformed call is
 * answered, never fatal.
 */
export class IpcDispatcher {
  constructor(private readonly handlers: Handlers) {}

  async dispatch(channel: unknown, payload: unknown): Promise<IpcResult<unknown>> {
    if (!isChannelName(channel)) {
      const shown = typeof channel === 'string' ? `"${channel.slice(0, 100)}"` : `a ${typeof channel}`;
      return {
        ok: false,
        error: {
          code: 'UNKNOWN_CHANNEL',
          message: `The engine has no channel named ${shown}.`,
          hint: 'The UI and the engine are probably different versions: restart Sluice.',
        },
      };
    }
    const parsed = channels[channel].request.safeParse(payload ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, MAX_ISSUES).map((i) => ({
        path: i.path.map(String).join('.') || '(payload)',
        message: i.message,
      }));
      return {
        ok: false,
        error: {
          code: 'VALIDATION',
          message: `Invalid request to ${channel}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          hint: 'Correct the highlighted fields and try again.',
          context: { channel },
          issues,
        },
      };
    }
    try {
      const handler = this.handlers[channel] as (req: unknown) => Promise<unknown>;
      const value = await handler(parsed.data);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: toIpcError(err, { channel }) };
    }
  }
}
