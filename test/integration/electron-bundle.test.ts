import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// The Electron binary cannot run here, so the bundles are loaded under Node with a recording stand-in for the
// 'electron' module: enough to prove the window's security settings and the preload's surface.
const dist = path.join(ROOT, 'dist-electron');
const require = createRequire(import.meta.url);

function loadWithFakeElectron(file: string, fake: Record<string, unknown>): void {
  const mod = Module as unknown as { _load: (req: string, parent: unknown, isMain: boolean) => unknown };
  const original = mod._load;
  mod._load = (req, parent, isMain) => (req === 'electron' ? fake : original(req, parent, isMain));
  try {
    delete require.cache[file];
    require(file);
  } finally {
    mod._load = original;
  }
}

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-electron.mjs')], { cwd: ROOT, stdio: 'pipe' });
});

describe('Electron preload bundle', () => {
  it('requires nothing but electron', () => {
    const src = readFileSync(path.join(dist, 'preload.cjs'), 'utf8');
    const requires = [...src.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(new Set(requires)).toEqual(new Set(['electron']));
  });

  it('exposes only invoke and on, for known channels and events', async () => {
    let exposed: Record<string, (...a: unknown[]) => unknown> = {};
    const invoked: unknown[][] = [];
    const listeners: Array<(...a: unknown[]) => void> = [];
    loadWithFakeElectron(path.join(dist, 'preload.cjs'), {
      contextBridge: {
        exposeInMainWorld: (key: string, api: typeof exposed) => (expect(key).toBe('sluice'), (exposed = api)),
      },
      ipcRenderer: {
        invoke: async (...a: unknown[]) => (invoked.push(a), { ok: true, value: 'pong' }),
        on: (_c: string, l: (...a: unknown[]) => void) => listeners.push(l),
        removeListener: (_c: string, l: (...a: unknown[]) => void) => listeners.splice(listeners.indexOf(l), 1),
      },
    });
    expect(Object.keys(exposed).sort()).toEqual(['invoke', 'on']);
    expect(await exposed.invoke!('app.ping', { nonce: 'x' })).toEqual({ ok: true, value: 'pong' });
    expect(invoked).toEqual([['sluice:invoke', 'app.ping', { nonce: 'x' }]]);
    expect(await exposed.invoke!('shell.exec', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(invoked).toHaveLength(1);
    expect(() => exposed.on!('no.such.event', () => {})).toThrow(/Unknown event/);
    const got: unknown[] = [];
    const off = exposed.on!('engine.log', (p: unknown) => got.push(p)) as () => void;
    listeners[0]!({}, 'engine.log', { message: 'hi' });
    listeners[0]!({}, 'settings.changed', { section: 'hosts' });
    expect(got).toEqual([{ message: 'hi' }]);
    off();
    expect(listeners).toHaveLength(0);
  });
});

describe('Electron main bundle', () => {
  it('opens a sandboxed, isolated window, blocks navigation and new windows, and runs the engine in a utilityProcess', async () => {
    const userData = makeTempDir();
    const windows: Array<{
      options: Record<string, unknown>;
      handlers: Record<string, (...a: unknown[]) => unknown>;
      openHandler?: (d: { url: string }) => unknown;
    }> = [];
    const forks: string[] = [];
    const handles: Record<string, (...a: unknown[]) => unknown> = {};
    let ready!: () => void;
    const whenReady = new Promise<void>((r) => (ready = r));
    class FakeWindow {
      webContents: Record<string, unknown>;
      constructor(options: Record<string, unknown>) {
        const w: (typeof windows)[number] = { options, handlers: {} };
        windows.push(w);
        this.webContents = {
          on: (e: string, h: (...a: unknown[]) => unknown) => (w.handlers[e] = h),
          setWindowOpenHandler: (h: (d: { url: string }) => unknown) => (w.openHandler = h),
          send: () => {},
        };
      }
      once() {}
      loadFile() {
        return Promise.resolve();
      }
      isDestroyed() {
        return false;
      }
      static getAllWindows() {
        return windows;
      }
    }
    loadWithFakeElectron(path.join(dist, 'main.cjs'), {
      app: {
        whenReady: () => whenReady,
        on: () => {},
        getPath: () => userData.dir,
        getName: () => 'Sluice',
        getVersion: () => '0.0.0',
        quit: () => {},
      },
      BrowserWindow: FakeWindow,
      ipcMain: { handle: (c: string, h: (...a: unknown[]) => unknown) => (handles[c] = h), on: () => {} },
      Notification: { isSupported: () => false },
      session: {
        defaultSession: { webRequest: { onHeadersReceived: () => {} }, setPermissionRequestHandler: () => {} },
      },
      shell: { openExternal: async () => {} },
      utilityProcess: { fork: (p: string) => (forks.push(p), { postMessage: () => {}, on: () => {} }) },
      safeStorage: { isEncryptionAvailable: () => false, getSelectedStorageBackend: () => 'basic_text' },
    });
    ready();
    await expect.poll(() => windows.length).toBe(1);
    userData.cleanup();
    const prefs = windows[0]!.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false });
    expect(String(prefs.preload)).toMatch(/preload\.cjs$/);
    expect(forks.map((f) => path.basename(f))).toEqual(['engine.cjs']);
    let prevented = false;
    windows[0]!.handlers['will-navigate']!({ preventDefault: () => (prevented = true) });
    expect(prevented).toBe(true);
    expect(windows[0]!.openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    const refused = await handles['sluice:invoke']!({ senderFrame: { url: 'https://evil.example/' } }, 'app.ping', {});
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });
});
