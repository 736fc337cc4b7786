import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';

/**
 * The newest point of a VM exported by `sluice export --format raw` (its first disk), hashed: what two
 * repositories must agree on when one is a copy of the other. `extra`: more flags (a key file); `env`: the
 * command's environment (an S3 remote's keys).
 */
export async function rawExportHash(
  scratch: string,
  remote: string,
  vm: string,
  opts: { extra?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const out = path.join(scratch, 'disk.raw');
  const r = await runCli(
    [
      'export',
      '--remote',
      remote,
      '--vm',
      vm,
      '--at',
      'latest',
      '--format',
      'raw',
      '--disk',
      '0',
      '--out',
      out,
      ...(opts.extra ?? []),
    ],
    { env: opts.env ?? {} },
  );
  expect(r.code, r.stderr).toBe(0);
  const h = createHash('sha256');
  for await (const c of createReadStream(out)) h.update(c as Buffer);
  return h.digest('hex');
}
