import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './serve-process.js';

/**
 * Deletes point `pointId` in a child process (merge-child.ts) that freezes at `stop`, then SIGKILLs it there.
 * Returns what the child printed when it froze ("frozen …"); rejects if it ended without freezing.
 */
export async function killMergeAt(
  remote: string,
  vmUuid: string,
  pointId: string,
  stop: string,
  opts: { aliases?: boolean } = {},
): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'test/helpers/merge-child.ts'), remote, vmUuid, pointId, stop],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.aliases ? { SLUICE_MERGE_ALIAS: '1' } : {}) },
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('frozen')) resolve();
    });
    child.once('exit', () => reject(new Error(`the merge ended before it froze at ${stop}: ${out} ${err}`)));
  });
  child.kill('SIGKILL');
  if ((await exited) !== 'SIGKILL') throw new Error(`the merge frozen at ${stop} did not die of SIGKILL`);
  return out.trim();
}
