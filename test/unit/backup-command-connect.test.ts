import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupCommand } from '../../src-main/cli/commands/backup-command.js';
import { tempDirs } from '../helpers/temp-dir.js';

// A backup whose host cannot be reached fails with that message, and leaves no Ctrl-C handler behind (a
// process that runs commands, like a test or a daemon, would otherwise collect one per failed run).
const { temp, cleanupAll } = tempDirs();
afterAll(() => cleanupAll());

describe('sluice backup when the pool cannot be reached', () => {
  it('fails saying so, and takes its SIGINT and SIGTERM handlers off again', async () => {
    const passwordFile = path.join(temp(), 'pw');
    writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const args = ['--host', 'https://127.0.0.1:1', '--username', 'root', '--password-file', passwordFile];
    const run = backupCommand([
      ...args,
      '--vm',
      'web',
      '--remote',
      temp(),
      '--mode',
      'full',
      '--data-dir',
      temp(),
      '--json',
    ]);
    await expect(run).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});
