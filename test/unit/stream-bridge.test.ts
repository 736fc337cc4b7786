import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StreamBridge } from '../../src-main/transfer/stream-bridge.js';

describe('StreamBridge', () => {
  it('hands every chunk over in order, each write resolving once taken', async () => {
    const bridge = new StreamBridge();
    const chunks = Array.from({ length: 50 }, () => randomBytes(100));
    const writer = (async () => {
      for (const c of chunks) await bridge.write(c);
      bridge.end();
    })();
    const got: Buffer[] = [];
    for await (const c of bridge) {
      got.push(c);
      await new Promise((r) => setTimeout(r, 1));
    }
    await writer;
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('fails the writer when the reader stops early', async () => {
    const bridge = new StreamBridge();
    const first = bridge.write(Buffer.from('a'));
    for await (const _c of bridge) break;
    await first;
    await expect(bridge.write(Buffer.from('b'))).rejects.toThrow(/reader stopped/);
  });
});
