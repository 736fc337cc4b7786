import { SluiceError } from '../errors/sluice-error.js';
import type { BackupPoint } from '../repository/index.js';
import { UsageError } from './cli-errors.js';

/**
 * The one point a restore or an export works on: --vm (name or uuid, required) and --at (a point id, or
 * "latest", the default). A name shared by several VMs is refused rather than guessed.
 */
export function selectOnePoint(points: BackupPoint[], vm: string | undefined, at: string | undefined): BackupPoint {
  if (!vm) throw new UsageError('--vm is required: the name or uuid of the backed-up VM.');
  const ofVm = points.filter((p) => p.vmUuid === vm.toLowerCase() || p.vmName === vm);
  if (ofVm.length === 0) {
    throw new SluiceError('NOT_FOUND', `No backup of a VM named or with uuid "${vm}" in this repository.`, {
      hint: 'Run `npx sluice list --remote DIR` to see what it holds.',
    });
  }
  const uuids = new Set(ofVm.map((p) => p.vmUuid));
  if (uuids.size > 1) {
    throw new SluiceError('CONFLICT', `Several backed-up VMs are named "${vm}".`, {
      hint: `Give the uuid instead: ${[...uuids].join(', ')}.`,
    });
  }
  const sorted = [...ofVm].sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  if (at === undefined || at === 'latest') return sorted.at(-1)!;
  const point = sorted.find((p) => p.id === at);
  if (!point) {
    throw new SluiceError('NOT_FOUND', `No backup point ${at} of ${vm}.`, {
      hint: `Points of ${vm}: ${sorted.map((p) => p.id).join(', ')} (or --at latest).`,
    });
  }
  return point;
}
