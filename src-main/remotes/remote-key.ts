import { SluiceError } from '../errors/sluice-error.js';

/**
 * Keys are how the repository names files: relative and '/'-separated. Names inside a repository come from
 * files in it (metadata, VHD parent locators), and a repository can be hostile or damaged, so every key is
 * checked here before any remote touches it: nothing absolute, no `..`, no empty or `.` segment, no
 * backslash or drive letter (which Windows would honour), no NUL.
 */
export function keySegments(key: string, remoteLabel: string, opts: { allowTop?: boolean } = {}): string[] {
  if (key === '' && opts.allowTop) return [];
  const segments = key.split('/');
  const bad =
    key === '' ||
    key.includes('\0') ||
    key.includes('\\') ||
    /^[A-Za-z]:/.test(key) ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw outsideRepository(key, remoteLabel);
  return segments;
}

export function outsideRepository(key: string, remoteLabel: string): SluiceError {
  return new SluiceError(
    'REMOTE_ERROR',
    `Refused to use "${key}" on ${remoteLabel}: it leads outside the repository.`,
    {
      hint:
        'A file in the repository names a path outside it (an absolute path, "..", or a link that points out). ' +
        'Sluice reads, writes and deletes only inside the repository, and touched nothing; check where that file came from.',
      context: { remote: remoteLabel },
      damage: { kind: 'path', file: key },
    },
  );
}

/** Joins keys with '/', the one separator every remote understands. */
export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}
