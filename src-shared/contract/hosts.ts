import { z } from 'zod';
import { id } from './fields.js';

/** The pools Sluice knows (a host's master address, its login and the certificate trusted on first use). */

export const hostSummarySchema = z.object({
  id,
  label: z.string(),
  url: z.string(),
  username: z.string(),
  /** SHA-256 of the certificate the user approved (trust on first use); null for plain HTTP. */
  trustedFingerprint: z.string().nullable(),
  hasPassword: z.boolean(),
});
export type HostSummary = z.infer<typeof hostSummarySchema>;

const hostUrl = z
  .string()
  .trim()
  .min(1, 'Enter the pool address, e.g. https://xcp-host.example')
  .refine((s) => {
    try {
      const u = new URL(/^[a-z]+:\/\//i.test(s) ? s : `https://${s}`);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'Not a host address: use https://host or host[:port]');

export const connectionStateSchema = z.object({
  hostId: z.string(),
  state: z.enum(['connecting', 'connected', 'error']),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).optional(),
  at: z.string(),
});
export type HostConnectionState = z.infer<typeof connectionStateSchema>;

export const hostsChannels = {
  'hosts.list': {
    request: z.object({}).strict(),
    response: z.array(hostSummarySchema),
  },
  'hosts.add': {
    request: z
      .object({
        label: z.string().trim().max(100).optional(),
        url: hostUrl,
        username: z.string().trim().min(1, 'Enter the username (often root)').max(200),
        password: z.string().min(1, 'Enter the password').max(1000),
        trustedFingerprint: z.string().max(200).optional(),
      })
      .strict(),
    response: hostSummarySchema,
  },
  'hosts.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  /** Trust the certificate a known pool presents now, in place: same id, password and jobs. */
  'hosts.approveCertificate': {
    request: z
      .object({
        hostId: id,
        /** The fingerprint the admin saw (and checked): the host must present exactly this one. */
        fingerprint: z
          .string()
          .trim()
          .regex(
            /^(sha-?256[:= ]?)?([0-9a-f]{2}:?){31}[0-9a-f]{2}$/i,
            'Give the SHA-256 fingerprint: 64 hex digits, colons optional',
          ),
      })
      .strict(),
    response: hostSummarySchema,
  },
  'hosts.probe': {
    request: z.object({ url: hostUrl }).strict(),
    response: z.object({
      url: z.string(),
      fingerprint: z.string().nullable(),
      knownFingerprint: z.string().nullable(),
    }),
  },
  'hosts.connectionStates': {
    request: z.object({}).strict(),
    response: z.array(connectionStateSchema),
  },
} as const;

export const hostsEvents = {
  /** The engine's connection to a pool changed state. */
  'hosts.connection': connectionStateSchema,
} as const;
