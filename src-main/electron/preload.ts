// Bundled into one CommonJS file: a sandboxed preload can require only 'electron'. It exposes the IPC
// contract and nothing else: invoke a known channel, subscribe to a known event, unsubscribe.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { isChannelName, isEventName } from '../../src-shared/contract/names.js';

const INVOKE = 'sluice:invoke';
const EVENT = 'sluice:event';

contextBridge.exposeInMainWorld('sluice', {
  invoke(channel: string, payload: unknown) {
    if (!isChannelName(channel)) {
      return Promise.resolve({
        ok: false,
        error: {
          code: 'UNKNOWN_CHANNEL',
          message: `The engine has no channel named "${String(channel).slice(0, 100)}".`,
        },
      });
    }
    return ipcRenderer.invoke(INVOKE, channel, payload);
  },
  on(event: string, listener: (payload: unknown) => void) {
    if (!isEventName(event)) throw new Error(`Unknown event "${String(event).slice(0, 100)}"`);
    const wrapped = (_e: IpcRendererEvent, name: string, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on(EVENT, wrapped);
    return () => void ipcRenderer.removeListener(EVENT, wrapped);
  },
});
