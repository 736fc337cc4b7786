import { z } from 'zod';
import { id } from './fields.js';

/** What a connected pool holds: its hosts, SRs and VMs with their disks. */

export const inventorySchema = z.object({
  pool: z.object({ uuid: z.string(), name: z.string(), defaultSrUuid: z.string().nullable() }).nullable(),
  hosts: z.array(z.object({ uuid: z.string(), name: z.string(), address: z.string(), version: z.string() })),
  srs: z.array(
    z.object({
      uuid: z.string(),
      name: z.string(),
      type: z.string(),
      size: z.number(),
      used: z.number(),
      shared: z.boolean(),
    }),
  ),
  vms: z.array(
    z.object({
      ref: z.string(),
      uuid: z.string(),
      name: z.string(),
      powerState: z.string(),
      tags: z.array(z.string()),
      residentOn: z.string().nullable(),
      disks: z.array(
        z.object({
          vdiUuid: z.string(),
          name: z.string(),
          virtualSize: z.number(),
          srUuid: z.string().nullable(),
          userdevice: z.string(),
          skipped: z.boolean(),
        }),
      ),
    }),
  ),
});
export type Inventory = z.infer<typeof inventorySchema>;

export const inventoryChannels = {
  'inventory.get': {
    request: z.object({ hostId: id }).strict(),
    response: inventorySchema.nullable(),
  },
} as const;

export const inventoryEvents = {
  /** A pool's inventory changed (debounced). */
  'inventory.changed': z.object({ hostId: z.string(), inventory: inventorySchema }),
} as const;
