import { promises as fs } from 'node:fs';

/** A file that may not exist yet (state, records, secrets): undefined when it is absent, any other error thrown. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The parsed file, undefined when it is absent; a file that is not JSON throws (the caller says what it is). */
export async function readJsonIfExists(file: string): Promise<unknown> {
  const text = await readTextIfExists(file);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}
