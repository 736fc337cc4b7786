import { z } from 'zod';
import { id } from './fields.js';

/** The places backups are written to. */

export const remoteSummarySchema = z.object({
  id,
  name: z.string(),
  kind: z.literal('folder'),
  path: z.string(),
  /** Encrypted at rest, as Xen Orchestra encrypts a remote. The key is never sent back. */
  encrypted: z.boolean().optional(),
  /** Incremental disks go in as VHD directories (Xen Orchestra's useVhdDirectory); absent: VHD files. */
  useVhdDirectory: z.boolean().optional(),
});
export type RemoteSummary = z.infer<typeof remoteSummarySchema>;

export const remotesChannels = {
  'remotes.test': {
    request: z.object({ id }).strict(),
    response: z.object({
      path: z.string(),
      freeBytes: z.number(),
      totalBytes: z.number(),
      writeBytesPerSec: z.number(),
      testedBytes: z.number(),
    }),
  },
  'remotes.list': {
    request: z.object({}).strict(),
    response: z.array(remoteSummarySchema),
  },
  'remotes.add': {
    request: z
      .object({
        name: z.string().trim().min(1, 'Give the remote a name').max(100),
        path: z.string().trim().min(1, 'Enter a folder path').max(4096),
        /**
         * Encrypts the remote with this key (32 characters, kept in the secret store): an empty folder becomes
         * an encrypted remote, an encrypted one (Xen Orchestra's) is opened with it.
         */
        encryptionKey: z.string().max(256).optional(),
        useVhdDirectory: z.boolean().optional(),
      })
      .strict(),
    response: remoteSummarySchema,
  },
  'remotes.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  /** Space on the remote's file system and what Sluice's repository holds there (no test file written). */
  'remotes.usage': {
    request: z.object({ id }).strict(),
    response: z.object({
      path: z.string(),
      freeBytes: z.number(),
      totalBytes: z.number(),
      /** Bytes of every file under the repository folder (xo-vm-backups). */
      repositoryBytes: z.number(),
      points: z.number().int(),
      vms: z.number().int(),
    }),
  },
} as const;
