import { z } from 'zod';
import { id } from './fields.js';

/** The places backups are written to. */

/**
 * A saved remote. `path` is its location in every kind: a folder's full path, or an S3 remote's
 * `s3://BUCKET/PREFIX?endpoint=URL` (what the CLI's --remote takes), so code that only names or opens a remote
 * needs no kind. An S3 remote's secret key is in the secret store and in no response.
 */
export const folderRemoteSummarySchema = z.object({
  id,
  name: z.string(),
  kind: z.literal('folder'),
  path: z.string(),
  /** Encrypted at rest, as Xen Orchestra encrypts a remote. The key is never sent back. */
  encrypted: z.boolean().optional(),
  /** Incremental disks go in as VHD directories (Xen Orchestra's useVhdDirectory); absent: VHD files. */
  useVhdDirectory: z.boolean().optional(),
});
export const s3RemoteSummarySchema = z.object({
  id,
  name: z.string(),
  kind: z.literal('s3'),
  path: z.string(),
  /** Absent: AWS itself. */
  endpoint: z.string().optional(),
  bucket: z.string(),
  /** '' or a/b: where the repository starts in the bucket. */
  prefix: z.string(),
  region: z.string(),
  pathStyle: z.boolean(),
  accessKeyId: z.string(),
  encrypted: z.boolean().optional(),
});
export const remoteSummarySchema = z.discriminatedUnion('kind', [folderRemoteSummarySchema, s3RemoteSummarySchema]);
export type RemoteSummary = z.infer<typeof remoteSummarySchema>;

/** What the Remotes form sends for an S3 remote; the secret key goes to the secret store. */
export const s3RemoteInputSchema = z
  .object({
    endpoint: z.string().trim().max(2048).optional(),
    bucket: z.string().trim().min(1, 'Enter the bucket').max(63),
    prefix: z.string().trim().max(1024).default(''),
    region: z.string().trim().max(64).optional(),
    pathStyle: z.boolean().optional(),
    accessKeyId: z.string().trim().min(1, 'Enter the access key id').max(256),
    secretAccessKey: z.string().min(1, 'Enter the secret access key').max(1024),
  })
  .strict();
export type S3RemoteInput = z.input<typeof s3RemoteInputSchema>;

export const remotesChannels = {
  'remotes.test': {
    request: z.object({ id }).strict(),
    /** Free and total space are null where the medium cannot say (an S3 bucket). */
    response: z.object({
      path: z.string(),
      freeBytes: z.number().nullable(),
      totalBytes: z.number().nullable(),
      writeBytesPerSec: z.number(),
      testedBytes: z.number(),
    }),
  },
  'remotes.list': {
    request: z.object({}).strict(),
    response: z.array(remoteSummarySchema),
  },
  'remotes.add': {
    /** A folder: `{ name, path }` (kind 'folder' may be left out); an S3 remote: `{ name, kind: 's3', s3 }`. */
    request: z
      .object({
        name: z.string().trim().min(1, 'Give the remote a name').max(100),
        kind: z.enum(['folder', 's3']).optional(),
        path: z.string().trim().min(1, 'Enter a folder path').max(4096).optional(),
        s3: s3RemoteInputSchema.optional(),
        /**
         * Encrypts the remote with this key (32 characters, kept in the secret store): an empty remote becomes
         * an encrypted remote, an encrypted one (Xen Orchestra's) is opened with it.
         */
        encryptionKey: z.string().max(256).optional(),
        useVhdDirectory: z.boolean().optional(),
      })
      .strict()
      .superRefine((v, ctx) => {
        if (v.kind !== 's3' && v.path === undefined)
          ctx.addIssue({ code: 'custom', path: ['path'], message: 'Enter a folder path' });
        if (v.kind !== 's3' && v.s3 !== undefined)
          ctx.addIssue({ code: 'custom', path: ['s3'], message: 'S3 settings belong to an S3 remote' });
        if (v.kind === 's3' && v.s3 === undefined)
          ctx.addIssue({ code: 'custom', path: ['s3'], message: 'Give the bucket and the keys' });
        if (v.kind === 's3' && v.path !== undefined)
          ctx.addIssue({ code: 'custom', path: ['path'], message: 'An S3 remote has no folder path' });
      }),
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
      /** null where the medium cannot say (an S3 bucket). */
      freeBytes: z.number().nullable(),
      totalBytes: z.number().nullable(),
      /** Bytes of every file under the repository folder (xo-vm-backups). */
      repositoryBytes: z.number(),
      points: z.number().int(),
      vms: z.number().int(),
    }),
  },
} as const;
