import type { VhdFooter, VhdHeader } from './vhd-structures.js';

// What the chain reader needs of one VHD of a chain, whatever holds it: a VHD file (vhd-file-reader.ts) or a
// VHD directory, Xen Orchestra's form on object storage (vhd-directory-reader.ts).

export interface VhdStoredBlock {
  bitmap: Buffer;
  data: Buffer;
}

export interface VhdBlockFile {
  /** How messages name it (a path, or a URL without credentials). */
  readonly path: string;
  readonly footer: VhdFooter;
  readonly header: VhdHeader;
  readonly blockCount: number;
  /** Bytes of a stored block: its sector bitmap then its data. */
  readonly storedBlockBytes: number;
  hasBlock(index: number): boolean;
  /** The stored bitmap and data of a block, or undefined when absent; `into` is read into when given. */
  readBlock(index: number, into?: Buffer): Promise<VhdStoredBlock | undefined>;
  close(): Promise<void>;
}
