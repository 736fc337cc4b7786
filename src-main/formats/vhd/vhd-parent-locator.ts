import { SECTOR, type ParentLocator } from './vhd-structures.js';

// How a differencing VHD points at its parent file. The header's parent_unicode_name is what Xen Orchestra
// reads; Windows and blktap/vhd-util look at the parent locator entries instead. We write two, both relative
// to the child's folder so the chain survives a copy of the whole folder to another remote:
//   W2ru  Windows relative path, UTF-16LE (what Hyper-V writes next to W2ku)
//   MacX  file URL, UTF-8 (what blktap and vhd-tool write); "file://./name" so the name is a path, not a host
// Each takes one 512-byte sector of data space, recorded in bytes as vhd-tool and Hyper-V do (the spec's
// wording says sectors; readers take the data length, which is unambiguous).

export const PLATFORM_W2RU = 'W2ru';
export const PLATFORM_MACX = 'MacX';

export interface EncodedParentLocators {
  locators: ParentLocator[];
  /** The locator data, one sector each, to store at `firstOffset`. */
  data: Buffer;
}

export function encodeParentLocators(parentName: string, firstOffset: number): EncodedParentLocators {
  const payloads: Array<[string, Buffer]> = [
    [PLATFORM_W2RU, Buffer.from(parentName, 'utf16le')],
    [PLATFORM_MACX, Buffer.from(`file://./${encodeURI(parentName)}`, 'utf8')],
  ];
  const locators: ParentLocator[] = [];
  const sectors: Buffer[] = [];
  let offset = firstOffset;
  for (const [platformCode, payload] of payloads) {
    const space = Math.max(SECTOR, Math.ceil(payload.length / SECTOR) * SECTOR);
    const sector = Buffer.alloc(space);
    payload.copy(sector);
    locators.push({ platformCode, dataSpace: space, dataLength: payload.length, dataOffset: offset });
    sectors.push(sector);
    offset += space;
  }
  return { locators, data: Buffer.concat(sectors) };
}

/** The parent path a locator's data names, or undefined for platforms we do not read (Mac aliases, W2ku). */
export function decodeParentLocator(platformCode: string, data: Buffer): string | undefined {
  if (platformCode === PLATFORM_W2RU) return data.toString('utf16le').replace(/\0+$/, '');
  if (platformCode === PLATFORM_MACX) {
    const url = data.toString('utf8').replace(/\0+$/, '');
    if (!url.startsWith('file://')) return undefined;
    // "file://./name" and "file://name" (vhd-tool) both mean a name relative to the child's folder.
    return decodeURI(url.slice('file://'.length)).replace(/^\.\//, '');
  }
  return undefined;
}
