import { unwatchFile, watchFile } from 'node:fs';
import path from 'node:path';
import { ValidatedSettingsStore } from '../../settings/validated-settings-store.js';
import { createNodeEngine } from '../../engine/engine-node.js';
import type { NodeEngine } from '../../engine/engine-node.js';
import { parseCommandArgs } from '../command-args.js';

export const daemonHelp = `sluice daemon [--data-dir DIR]

Runs the backup jobs on their schedules, headless, until Ctrl-C (SIGINT) or SIGTERM. Uses the same settings,
secrets and run history as \`sluice serve\` (--data-dir, default: the user's config folder or $SLUICE_DATA_DIR).
Runs in progress are cancelled cleanly on stop. If the app or \`sluice serve\` already runs the schedules of
this data dir, the daemon waits and takes over when they stop.
`;

/** Where engine events go when nobody watches a window: one line each on stderr (the log too, or only notifications). */
export function logEngineEvents(
  engine: NodeEngine,
  opts: { log: boolean },
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): () => void {
  const offs = [engine.ctx.bus.on('notification', (n) => write(`${n.at} NOTIFY ${n.title}: ${n.body}`))];
  if (opts.log) offs.push(engine.ctx.bus.on('engine.log', (l) => write(`${l.at} ${l.level.padEnd(5)} ${l.message}`)));
  return () => offs.forEach((off) => off());
}

/**
 * Picks up changes other processes make to the settings file (a job added with `sluice jobs add`), so the
 * schedules follow without a restart. Polled: fs.watch misses atomic renames on some file systems.
 */
export function followSettingsFile(engine: NodeEngine, intervalMs = 2000): () => void {
  const store = engine.ctx.settings;
  if (!(store instanceof ValidatedSettingsStore)) return () => {};
  const file = path.join(engine.ctx.dataDir, 'settings.json');
  const onChange = () => {
    if (store.reload()) engine.ctx.bus.emit('settings.changed', { section: 'jobs' });
  };
  watchFile(file, { interval: intervalMs }, onChange);
  return () => unwatchFile(file, onChange);
}

export async function daemonCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(argv, { 'data-dir': { type: 'string' } }, daemonHelp);
  if (!values) return 0;
  const engine = createNodeEngine({ dataDir: values['data-dir'], transport: 'websocket' });
  const stopLogging = logEngineEvents(engine, { log: true });
  const stopFollowing = followSettingsFile(engine);
  // The scheduler's timers do not hold the process open on their own; this does, until a signal.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    const { leader } = await engine.jobs.startScheduler();
    const jobs = engine.ctx.settings.get().jobs;
    const next = jobs
      .flatMap((j) => engine.jobs.nextRuns(j).map((n) => ({ name: j.name, at: n.at })))
      .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
    process.stdout.write(
      `Sluice daemon: ${jobs.length} job(s) in ${engine.ctx.dataDir}${leader ? '' : ' (another Sluice process runs the schedules for now)'}.` +
        `${next ? ` Next run: "${next.name}" at ${next.at.toISOString()}.` : ''} Press Ctrl-C to stop.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    process.stdout.write('Stopping: cancelling runs in progress…\n');
  } finally {
    clearInterval(keepAlive);
    stopFollowing();
    await engine.close();
    stopLogging();
  }
  return 0;
}
