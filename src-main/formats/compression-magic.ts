/** Which compression a stream or file starts with (hosts compress XVAs with zstd or gzip on request). */
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function startsWithZstd(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ZSTD);
}

export function startsWithGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}
