import {
  channels,
  events,
  type ChannelName,
  type EventName,
  type EventPayload,
  type RequestOf,
  type ResponseOf,
} from '../../../src-shared/contract/index';
import { IpcCallError } from '../../../src-shared/contract/errors';
import { ElectronTransport } from './electron-transport';
import type { ConnectionState, Transport } from './transport';
import { WebSocketTransport } from './ws-transport';

/** The renderer's one typed client of the engine. */
export class SluiceClient {
  constructor(private readonly transport: Transport) {}

  get transportKind() {
    return this.transport.kind;
  }

  async invoke<C extends ChannelName>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    const result = await this.transport.invoke(channel, request);
    if (!result.ok) throw new IpcCallError(result.error);
    // Responses are checked too: a mismatch means UI and engine are out of step, better said than rendered.
    const parsed = channels[channel].response.safeParse(result.value);
    if (!parsed.success) {
      throw new IpcCallError({
        code: 'INTERNAL',
        message: `The engine's answer on ${channel} did not match the contract.`,
        hint: 'Restart Sluice.',
      });
    }
    return parsed.data as ResponseOf<C>;
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.transport.subscribe(event, (payload) => {
      const parsed = events[event].safeParse(payload);
      if (parsed.success) listener(parsed.data as EventPayload<E>);
    });
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    return this.transport.onConnectionChange(listener);
  }
}

export function createClient(): SluiceClient {
  const transport = window.sluice
    ? new ElectronTransport(window.sluice)
    : WebSocketTransport.fromLocation(window.location);
  return new SluiceClient(transport);
}
