import { z } from 'zod';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { parentKey } from './repository-keys.js';

// The state file of an unfinished merge, `.<parent>.merge.json` next to the parent VHD, in the fields Xen
// Orchestra writes (so either tool can see, and resume, the other's merge):
//   chain           the parent's and the child's file names, relative to the folder
//   parent.header   the parent's dynamic header checksum, child.header the child's: a resume checks the files
//                   are still the ones it started on (the merge never rewrites either header)
//   currentBlock    the first child block not yet known to be merged
//   mergedDataSize  bytes of child blocks merged so far
//   step            'mergeBlocks', then 'cleanupVhds' once the parent holds everything and only the rename is left

export const mergeStateSchema = z
  .object({
    chain: z.array(z.string().min(1)).min(2),
    parent: z.object({ header: z.number().int() }).passthrough(),
    child: z.object({ header: z.number().int() }).passthrough(),
    // XO once wrote null here (a NaN stringified); it means "from the start".
    currentBlock: z
      .number()
      .int()
      .min(0)
      .nullable()
      .transform((n) => n ?? 0),
    mergedDataSize: z.number().min(0).default(0),
    step: z.enum(['mergeBlocks', 'cleanupVhds']),
    diskSize: z.number().optional(),
  })
  .passthrough();
export type MergeState = z.infer<typeof mergeStateSchema>;

/** A state file holds two names and a few numbers; XO's, with its longer chains, a few KiB. */
const MAX_STATE_BYTES = 1024 * 1024;

/** The state file's key, beside the parent VHD in its folder. */
export function mergeStateKey(folderKey: string, parentName: string): string {
  return joinKey(folderKey, `.${parentName}.merge.json`);
}

export function isMergeStateName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.merge.json');
}

/** The parent's file name a state file belongs to (`.<parent>.merge.json`). */
export function parentOfMergeState(name: string): string {
  return name.slice(1, -'.merge.json'.length);
}

export async function readMergeState(remote: Remote, key: string): Promise<MergeState | undefined> {
  const data = await remote.readIfExists(key, { maxBytes: MAX_STATE_BYTES });
  if (data === undefined) return undefined;
  return mergeStateSchema.parse(JSON.parse(data.toString('utf8')));
}

/** Durable before it returns: the blocks it counts as merged are already on disk, so it may only move forward. */
export async function writeMergeState(remote: Remote, key: string, state: MergeState): Promise<void> {
  // Replaces the old state in one step, so there is exactly one whole state file at every moment.
  await remote.overwrite(key, JSON.stringify(state));
}

export async function removeMergeState(remote: Remote, key: string): Promise<void> {
  await remote.delete(key);
  await remote.syncFolder(parentKey(key));
}
