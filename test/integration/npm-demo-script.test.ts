import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { demoHelp } from '../../src-main/cli/commands/demo-command.js';
import { ROOT } from '../helpers/serve-process.js';

// `npm run demo` is the README's no-set-up run, on the command line: it has no use for the UI, so it must
// not spend a UI build before it (`npm run serve` needs one; the demo does not).
describe('npm run demo', () => {
  it('runs the CLI demo straight away, with no UI build first', async () => {
    const r = await promisify(execFile)('npm', ['run', 'demo', '--', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toContain(demoHelp);
    expect(r.stdout + r.stderr).not.toMatch(/build:renderer|vite/);
  });
});
