import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { PointOperations } from '../point-operations.js';

export function pointOperationsHandlers(
  ops: PointOperations,
): Pick<
  Handlers,
  | 'points.restore'
  | 'points.restoreDisk'
  | 'points.export'
  | 'points.verify'
  | 'points.delete'
  | 'points.disks'
  | 'operations.cancel'
> {
  return {
    'points.restore': (req) => ops.restore(req),
    'points.restoreDisk': (req) => ops.restoreDisk(req),
    'points.export': (req) => ops.export(req),
    'points.verify': (req) => ops.verify(req),
    'points.delete': (req) => ops.delete(req),
    'points.disks': (req) => ops.disks(req),
    'operations.cancel': async ({ operationId }) => ({ cancelled: ops.cancel(operationId) }),
  };
}
