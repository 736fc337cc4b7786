/**
 * Whether a process of this machine still runs: signal 0 only asks. EPERM means it runs under another user,
 * which is still alive (a lock or a run record it owns must not be taken over).
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
