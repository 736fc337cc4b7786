import { requireObject, str } from '../model/lookup.js';
import type { PoolState } from '../model/pool-state.js';
import { NULL_REF } from '../model/refs.js';
import { XapiError } from '../model/xapi-error.js';
import { copyVdi, dataDestroy, destroyVdi, listChangedBlocks, snapshotVdi } from '../model/vdi-operations.js';
import type { MethodSpec } from './method-registry.js';
import { argString } from './params.js';

export const NBD_PORT = 10809;

export const vdiMethods: Record<string, MethodSpec> = {
  'VDI.destroy': { arity: 1, run: async ({ state }, [vdi]) => (await destroyVdi(state, argString(vdi, 'self')), '') },
  'VDI.snapshot': { arity: [1, 2], run: ({ state }, [vdi]) => snapshotVdi(state, argString(vdi, 'vdi')) },
  // base_vdi and into_vdi (later additions, NULL by default) may be left out, as older clients do.
  'VDI.copy': {
    arity: [2, 4],
    run: ({ state, host, task, signal }, [vdi, sr, base, into]) => {
      for (const [value, name] of [
        [base, 'base_vdi'],
        [into, 'into_vdi'],
      ] as const) {
        if (value !== undefined && argString(value, name) !== NULL_REF)
          throw new XapiError('NOT_IMPLEMENTED', [`VDI.copy with ${name} (simulator)`]);
      }
      return copyVdi(state, argString(vdi, 'vdi'), argString(sr, 'sr'), {
        signal,
        bytesPerSecond: host.takeCopyRate(),
        onProgress: task ? (f) => state.tasks.setProgress(task, Math.min(0.99, f)) : undefined,
      });
    },
  },
  'VDI.enable_cbt': { arity: 1, run: ({ state }, [vdi]) => setCbt(state, argString(vdi, 'self'), true) },
  'VDI.disable_cbt': { arity: 1, run: ({ state }, [vdi]) => setCbt(state, argString(vdi, 'self'), false) },
  'VDI.list_changed_blocks': {
    arity: 2,
    run: ({ state }, [from, to]) => listChangedBlocks(state, argString(from, 'vdi_from'), argString(to, 'vdi_to')),
  },
  'VDI.data_destroy': { arity: 1, run: ({ state }, [vdi]) => (dataDestroy(state, argString(vdi, 'self')), '') },
  'VDI.get_nbd_info': {
    arity: 1,
    run: ({ state, host, session }, [vdi]) => {
      const self = argString(vdi, 'self');
      const uuid = str(requireObject(state.store, 'VDI', self), 'uuid');
      // Real hosts list endpoints only when a network has purpose nbd / insecure_nbd.
      if (!state.config.nbd) return [];
      const address = host.coordinatorAddress().split(':')[0] ?? '127.0.0.1';
      return [
        { exportname: `/${uuid}?session_id=${session!.ref}`, address, port: NBD_PORT, cert: '', subject: 'xcp-host1' },
      ];
    },
  },
};

function setCbt(state: PoolState, vdi: string, enabled: boolean): '' {
  requireObject(state.store, 'VDI', vdi);
  state.store.update('VDI', vdi, { cbt_enabled: enabled });
  return '';
}
