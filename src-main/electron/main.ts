// Electron's main process stays thin: a window, the engine's utilityProcess, and a relay between them.
import path from 'node:path';
import { app, BrowserWindow, ipcMain, Notification, session, shell, utilityProcess } from 'electron';
import { contentSecurityPolicy } from '../server/static-files.js';
import { EnginePortClient } from '../engine/engine-port-client.js';
import { ElectronSettingsStore } from './electron-settings-store.js';
import { SafeStorageSecretStore } from './safe-storage-secret-store.js';

const here = __dirname;
const rendererIndex = path.join(here, '..', 'dist-renderer', 'index.html');

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    title: 'Sluice',
    show: false,
    webPreferences: {
      preload: path.join(here, 'preload.cjs'),
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  // No navigation away from the app, no new windows; external links go to the system browser.
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.once('ready-to-show', () => win.show());
  void win.loadFile(rendererIndex);
  return win;
}

async function start(): Promise<void> {
  await app.whenReady();
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [contentSecurityPolicy("'none'")] },
    });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));

  const engineProcess = utilityProcess.fork(path.join(here, 'engine.cjs'), [], {
    serviceName: 'Sluice engine',
    // As bin/sluice.js: a small young generation keeps a long backup's resident memory within its budget.
    execArgv: ['--max-semi-space-size=1'],
  });
  const port = {
    postMessage: (m: unknown) => engineProcess.postMessage(m),
    on: (_e: 'message', l: (m: unknown) => void) => engineProcess.on('message', l),
  };
  const engine = new EnginePortClient(
    port,
    { settings: new ElectronSettingsStore(), secrets: new SafeStorageSecretStore(app.getPath('userData')) },
    { dataDir: app.getPath('userData'), version: app.getVersion() },
  );

  ipcMain.handle('sluice:invoke', (event, channel: unknown, payload: unknown) => {
    // Only our own window's frames may call the engine.
    if (!event.senderFrame || !event.senderFrame.url.startsWith('file://')) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'Calls are accepted only from the Sluice window.' } };
    }
    // The engine validates channel and payload; main only relays.
    return engine.invoke(channel, payload);
  });

  let win = createWindow();
  engine.onEvent((name, payload) => {
    if (!win.isDestroyed()) win.webContents.send('sluice:event', name, payload);
    if (!Notification.isSupported()) return;
    // The engine decides what deserves a desktop notification, per the user's notification settings: only its
    // 'notification' events become one (errors otherwise show in the window, not as pop-ups).
    if (name !== 'notification') return;
    const p = payload as { title?: string; body?: string };
    new Notification({ title: String(p.title ?? 'Sluice'), body: String(p.body ?? '') }).show();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) win = createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('before-quit', () => {
    engine.shutdown();
  });
}

void start();
