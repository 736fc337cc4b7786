import { afterEach, describe, expect, it } from 'vitest';
import { channelNames } from '../../src-shared/contract/index.js';
import { createNodeEngine } from '../../src-main/engine/engine-node.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('IPC dispatcher', () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((c) => c()));
  const engine = () => {
    const t = makeTempDir();
    temps.push(t.cleanup);
    return createNodeEngine({ dataDir: t.dir, transport: 'websocket' });
  };

  it('answers a known channel', async () => {
    const { dispatcher } = engine();
    const r = await dispatcher.dispatch('app.ping', { nonce: 'n1' });
    expect(r.ok).toBe(true);
    expect(r.ok && (r.value as { nonce: string }).nonce).toBe('n1');
  });

  it('refuses an unknown channel with a typed error and keeps serving', async () => {
    const { dispatcher } = engine();
    const r = await dispatcher.dispatch('fs.deleteEverything', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(r.ok || r.error.message).toContain('fs.deleteEverything');
    const again = await dispatcher.dispatch('app.ping', { nonce: 'still-alive' });
    expect(again.ok).toBe(true);
  });

  it.each([
    ['a number instead of an object', 42],
    ['a missing field', {}],
    ['a wrong type', { nonce: 7 }],
    ['an extra field', { nonce: 'x', evil: true }],
    ['an array', ['nonce']],
  ])('refuses a malformed payload (%s) with VALIDATION', async (_label, payload) => {
    const { dispatcher } = engine();
    const r = await dispatcher.dispatch('app.ping', payload);
    expect(r).toMatchObject({ ok: false, error: { code: 'VALIDATION', context: { channel: 'app.ping' } } });
    expect(r.ok || r.error.issues?.length).toBeGreaterThan(0);
  });

  it('refuses a non-string channel', async () => {
    const { dispatcher } = engine();
    expect(await dispatcher.dispatch({ toString: 'x' }, {})).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL' },
    });
  });

  it('turns a handler failure into a typed error with a hint', async () => {
    const { dispatcher } = engine();
    const r = await dispatcher.dispatch('remotes.add', { name: 'nas', path: 'relative/dir' });
    expect(r).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    expect(r.ok || r.error.hint).toMatch(/full path/);
  });

  it('has a handler for every channel of the contract', async () => {
    const { dispatcher } = engine();
    for (const name of channelNames) {
      const r = await dispatcher.dispatch(name, { __probe: true });
      // Every channel is wired: the worst answer to a probe is VALIDATION, never UNKNOWN_CHANNEL or INTERNAL.
      if (!r.ok) expect(r.error.code).toBe('VALIDATION');
    }
  });
});
