import { packageVersion } from '../engine/engine-node.js';
import { reportCliError, UsageError } from './cli-errors.js';
import { backupCommand, backupHelp } from './commands/backup-command.js';
import { listCommand, listHelp } from './commands/list-command.js';
import { serveCommand, serveHelp } from './commands/serve-command.js';
import { verifyCommand, verifyHelp } from './commands/verify-command.js';

type Command = { summary: string; help: string; run: (argv: string[]) => Promise<number> };

const commands: Record<string, Command> = {
  backup: { summary: 'back up VMs of a pool into a repository folder', help: backupHelp, run: backupCommand },
  list: { summary: 'list the backup points in a repository folder', help: listHelp, run: listCommand },
  verify: { summary: 're-read backup points and check every checksum', help: verifyHelp, run: verifyCommand },
  serve: { summary: 'serve the UI in a browser on 127.0.0.1 (browser mode)', help: serveHelp, run: serveCommand },
  demo: {
    summary: 'the main job on the simulated "Small shop" pool: back up, verify, list',
    help: 'sluice demo [--remote DIR]\n',
    run: async (argv) => (await import('./commands/demo-command.js')).demoCommand(argv),
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
    'Run `sluice <command> --help` for a command\'s options.',
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
