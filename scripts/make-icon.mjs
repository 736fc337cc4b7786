// Draws assets/icon.png (1024x1024): a sluice gate, three bars over flowing water. electron-builder derives
// the Windows .ico and macOS .icns from it. Run again only to change the design.
import { writeFileSync } from 'node:fs';
import zlib from 'node:zlib';

const N = 1024;
const px = Buffer.alloc(N * N * 4);
const set = (x, y, [r, g, b, a]) => {
  const i = (y * N + x) * 4;
  px[i] = r;
  px[i + 1] = g;
  px[i + 2] = b;
  px[i + 3] = a;
};
const radius = 200;
const inRounded = (x, y) => {
  const m = 40;
  if (x < m || y < m || x >= N - m || y >= N - m) return false;
  const cx = Math.min(Math.max(x, m + radius), N - m - radius);
  const cy = Math.min(Math.max(y, m + radius), N - m - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
};
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    if (!inRounded(x, y)) {
      set(x, y, [0, 0, 0, 0]);
      continue;
    }
    const t = y / N;
    let c = [Math.round(20 + 20 * t), Math.round(90 + 40 * t), Math.round(200 - 30 * t), 255];
    // gate: three vertical bars and a beam
    const bar = [300, 480, 660].some((bx) => x >= bx && x < bx + 64) && y > 230 && y < 640;
    const beam = y > 200 && y < 250 && x > 240 && x < 784;
    if (bar || beam) c = [245, 248, 252, 255];
    // water: two waves below the gate
    for (const [base, amp] of [
      [720, 28],
      [820, 24],
    ]) {
      const wy = base + amp * Math.sin((x / N) * Math.PI * 6);
      if (Math.abs(y - wy) < 16 && x > 150 && x < 874) c = [170, 220, 255, 255];
    }
    set(x, y, c);
  }
}
const raw = Buffer.alloc((N * 4 + 1) * N);
for (let y = 0; y < N; y++) px.copy(raw, y * (N * 4 + 1) + 1, y * N * 4, (y + 1) * N * 4);
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(td));
  return Buffer.concat([len, td, c]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0);
ihdr.writeUInt32BE(N, 4);
ihdr[8] = 8;
ihdr[9] = 6;
writeFileSync(
  new URL('../assets/icon.png', import.meta.url),
  Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]),
);
console.log('assets/icon.png written');
