import { packageVersion } from '../core/app-root.js';
import { reportCliError, UsageError } from './cli-errors.js';

/**
 * Each command is loaded only when run: a backup does not carry the browser server, nor `list` the XAPI
 * client (memory is a target: a backup process stays under 150 MiB).
 */
type Command = { summary: string; run: (argv: string[]) => Promise<number> };

const commands: Record<string, Command> = {
  backup: {
    summary: 'back up VMs of a pool into a repository folder',
    run: async (a) => (await import('./commands/backup-command.js')).backupCommand(a),
  },
  list: {
    summary: 'list the backup points in a repository folder',
    run: async (a) => (await import('./commands/list-command.js')).listCommand(a),
  },
  verify: {
    summary: 're-read backup points and check every checksum',
    run: async (a) => (await import('./commands/verify-command.js')).verifyCommand(a),
  },
  restore: {
    summary: 'restore a backup point to a pool as a new VM (or one disk)',
    run: async (a) => (await import('./commands/restore-command.js')).restoreCommand(a),
  },
  export: {
    summary: 'export a backup point to a standalone XVA, VHD or raw file',
    run: async (a) => (await import('./commands/export-command.js')).exportCommand(a),
  },
  mirror: {
    summary: 'copy the backup points of one remote to another (no host involved), with its own retention',
    run: async (a) => (await import('./commands/mirror-command.js')).mirrorCommand(a),
  },
  check: {
    summary: 'check a repository (orphans, broken chains, leftovers, unfinished merges); --repair fixes what is safe',
    run: async (a) => (await import('./commands/check-command.js')).checkCommand(a),
  },
  serve: {
    summary: 'serve the UI in a browser on 127.0.0.1 (browser mode)',
    run: async (a) => (await import('./commands/serve-command.js')).serveCommand(a),
  },
  jobs: {
    summary: 'backup jobs: list, add, run NAME, history, summary, remove',
    run: async (a) => (await import('./commands/jobs-command.js')).jobsCommand(a),
  },
  daemon: {
    summary: 'run the jobs on their schedules, headless, until stopped',
    run: async (a) => (await import('./commands/daemon-command.js')).daemonCommand(a),
  },
  demo: {
    summary: 'the main job on the simulated "Small shop" pool: back up, verify, list',
    run: async (a) => (await import('./commands/demo-command.js')).demoCommand(a),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    `Sluice ${packageVersion()}: back up, restore and export the VMs of an XCP-ng or XenServer pool.`,
    '',
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `sluice <command> --help` for a command's options.",
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`Unknown command "${name}".`);
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportCliError(err);
  },
);
