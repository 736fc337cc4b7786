import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface SimProcess {
  url: string;
  username: string;
  password: string;
  fingerprint: string;
  controlUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The simulator in its own process, as `npm run sim` runs it, so it does not share our CPU time slice. */
export async function startSimProcess(args: string[], opts: { cpu?: number } = {}): Promise<SimProcess> {
  const cmd = [process.execPath, '--import', 'tsx', path.join(ROOT, 'src-sim/cli.ts'), ...args];
  // Pinned to its own core when asked: a real host is another machine, and must not steal the client's CPU.
  const [exe, ...rest] = opts.cpu === undefined ? cmd : ['taskset', '-c', String(opts.cpu), ...cmd];
  const child = spawn(exe!, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const info = JSON.parse(first) as Omit<SimProcess, 'child' | 'stop'>;
  return {
    ...info,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function simControl(sim: SimProcess, method: string, pathName: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(pathName, sim.controlUrl), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${pathName}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}
