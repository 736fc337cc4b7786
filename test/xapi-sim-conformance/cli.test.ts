import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { call, login } from './support/clients.js';

// tsx itself (not npx) so that SIGTERM reaches the simulator as it does under `npm run sim`.
const TSX = 'node_modules/.bin/tsx';
const CLI = ['src-sim/cli.ts'];

describe('npm run sim', () => {
  it('prints the handle as its first stdout line, serves, and cleans up on SIGTERM', async () => {
    const child = spawn(
      TSX,
      [
        ...CLI,
        '--vms',
        '1',
        '--disk-size',
        '4M',
        '--fault',
        'drop-after=1M,times=1',
        '--password',
        'secret',
        '--login-failure-delay',
        '10',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const info = JSON.parse(first) as Record<string, string>;
      expect(info).toMatchObject({
        url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/),
        username: 'root',
        password: 'secret',
        fingerprint: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
      });
      expect(info['controlUrl']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(info['secondHostUrl']).toMatch(/^https:\/\//);
      const session = await login(info['url']!, 'root', 'secret');
      expect(await call<string[]>(info['url']!, 'VM.get_by_name_label', session, 'vm-01')).toHaveLength(1);
      const faults = (await (await fetch(`${info['controlUrl']}/faults`)).json()) as Array<{
        kind: string;
        remaining: number;
      }>;
      expect(faults).toEqual([expect.objectContaining({ kind: 'drop-after', remaining: 1 })]);
      const handle = (await (await fetch(`${info['controlUrl']}/`)).json()) as Record<string, string>;
      expect(handle['url']).toBe(info['url']);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('--help documents every option', async () => {
    const child = spawn(TSX, [...CLI, '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (text += t));
    await new Promise((resolve) => child.once('exit', resolve));
    for (const option of [
      '--vms',
      '--disk-size',
      '--no-tls',
      '--fault',
      '--username',
      '--password',
      '--port',
      '--preset',
      '--old-host',
      'stall-abort',
      'slow-login',
    ]) {
      expect(text).toContain(option);
    }
    expect(existsSync('src-sim/cli.ts')).toBe(true);
  });
});
