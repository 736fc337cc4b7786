import path from 'node:path';
import { appRoot } from '../../core/app-root.js';
import { createNodeEngine } from '../../engine/engine-node.js';
import { startBrowserServer } from '../../server/browser-server.js';
import { UsageError } from '../cli-errors.js';
import { parseCommandArgs } from '../command-args.js';

export const serveHelp = `sluice serve [--port N] [--data-dir DIR] [--demo [--demo-manual]]

Runs the engine under Node and serves the Sluice UI on 127.0.0.1 (browser mode, for headless machines).
Prints the URL with this start's token; open it in a browser on this machine. Ctrl-C stops it.

  --port N        listen on this port (default: a free one)
  --data-dir DIR  settings and secrets folder (default: the user's config folder, or $SLUICE_DATA_DIR)
  --demo          also start the simulated "Small shop" pool, added and trusted: its VMs are ready to back up
  --demo-manual   with --demo: leave adding the pool to you (to try the Hosts form); its address and
                  credentials are printed
`;

export function rendererDir(): string {
  return path.join(appRoot(), 'dist-renderer');
}

export async function serveCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      demo: { type: 'boolean' },
      'demo-manual': { type: 'boolean' },
    },
    serveHelp,
  );
  if (!values) return 0;
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number, not "${values.port}".`);
  if (values['demo-manual'] && !values.demo) throw new UsageError('--demo-manual goes with --demo.');

  const stops: Array<() => Promise<void>> = [];
  const engine = createNodeEngine({ dataDir: values['data-dir'], transport: 'websocket' });
  stops.push(() => engine.close());
  if (values.demo) {
    const demo = values['demo-manual']
      ? await (await import('./demo-pool.js')).startDemoPool()
      : await (await import('./serve-demo-pool.js')).startConfiguredDemoPool(engine);
    stops.push(() => demo.stop());
    process.stdout.write(
      `Demo pool "Small shop" at ${demo.url} (user ${demo.username}, password ${demo.password}, certificate ${demo.fingerprint})\n`,
    );
    if (!values['demo-manual']) process.stdout.write('The demo pool is added and trusted in these settings.\n');
    // Tests and demos use it to play the host's failures (a rotated certificate, a slow disk) on the live pool.
    process.stdout.write(`Demo pool control API at ${demo.controlUrl}\n`);
  }
  const server = await startBrowserServer({
    dispatcher: engine.dispatcher,
    bus: engine.ctx.bus,
    staticDir: rendererDir(),
    port,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  // Browser mode runs the schedules too (unless the app or the daemon already does for this data dir).
  const { followSettingsFile, logEngineEvents } = await import('./daemon-command.js');
  logEngineEvents(engine, { log: false });
  const unfollow = followSettingsFile(engine);
  stops.push(async () => unfollow());
  await engine.jobs.startScheduler();
  engine.ctx.bus.emit('engine.status', { state: 'ready', at: new Date().toISOString() });
  process.stdout.write(`Sluice is serving on ${server.url}\n`);
  process.stdout.write(`Settings in ${engine.ctx.dataDir}. Press Ctrl-C to stop.\n`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  engine.ctx.bus.emit('engine.status', { state: 'stopping', at: new Date().toISOString() });
  await server.close();
  for (const s of stops) await s();
  return 0;
}
