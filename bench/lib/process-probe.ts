import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  wallMs: number;
  /** Peak resident set (VmHWM) in bytes, read from /proc while the process ran. */
  peakRssBytes: number;
  /** CPU time the process (and what it waited for) used, user and system, in ms. */
  cpuUserMs: number;
  cpuSysMs: number;
  stdout: string;
  stderr: string;
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time, in ms, of a process: [user, system]; `reaped` adds its waited-for children's (cutime, cstime). */
export function cpuTimesMs(pid: number | 'self', reaped = false): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const [u, s, cu, cs] = [11, 12, 13, 14].map((i) => Number(fields[i]) * TICK_MS) as [number, number, number, number];
  return reaped ? [cu, cs] : [u, s];
}

/**
 * Runs a command and measures its wall time, peak RSS (Linux /proc, polled every 50 ms) and CPU time. The CPU
 * time is what the kernel adds to our children's account when the command is reaped, so only one measured
 * command should run at a time.
 */
export function runMeasured(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const [cu0, cs0] = cpuTimesMs('self', true);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peak = 0;
    let stdout = '';
    let stderr = '';
    const timer = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid!))), 50);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      const wallMs = performance.now() - t0;
      // 'exit' comes after the child was reaped: its CPU time is in our children's account now.
      const [cu, cs] = cpuTimesMs('self', true);
      resolve({ code, wallMs, peakRssBytes: peak, cpuUserMs: cu - cu0, cpuSysMs: cs - cs0, stdout, stderr });
    });
  });
}
