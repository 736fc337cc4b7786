import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readTextIfExists } from '../core/optional-file.js';
import { syncDir } from '../core/atomic-file.js';
import { writeFileDurably } from '../core/durable-file.js';

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

export function mergeStatePath(dir: string, parentName: string): string {
  return path.join(dir, `.${parentName}.merge.json`);
}

export function isMergeStateName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.merge.json');
}

/** The parent's file name a state file belongs to (`.<parent>.merge.json`). */
export function parentOfMergeState(name: string): string {
  return name.slice(1, -'.merge.json'.length);
}

export async function readMergeState(file: string): Promise<MergeState | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  return mergeStateSchema.parse(JSON.parse(text));
}

/** Durable before it returns: the blocks it counts as merged are already on disk, so it may only move forward. */
export async function writeMergeState(file: string, state: MergeState): Promise<void> {
  // Renamed over the old state, so there is exactly one whole state file at every moment. The temp name ends
  // in `.tmp`: under the usual `.<tag>.<name>` it would end in `.merge.json` and be taken for a state file.
  await writeFileDurably(file, JSON.stringify(state), { replace: true, tempName: (name, tag) => `${name}.${tag}.tmp` });
}

export async function removeMergeState(file: string): Promise<void> {
  await fs.rm(file, { force: true });
  await syncDir(path.dirname(file));
}
