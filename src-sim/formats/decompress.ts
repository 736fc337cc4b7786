import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

// A host auto-detects compressed uploads by their magic: gzip (1f 8b) and zstd (28 b5 2f fd). Node 20's
// zlib has no zstd, so that goes through the zstd command.

export class DecompressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecompressionError';
  }
}

export type Compression = 'none' | 'gzip' | 'zstd';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  return 'none';
}

export async function* decompressAuto(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < 4) {
    const next = await it.next();
    if (next.done) break;
    head.push(next.value);
    headLength += next.value.length;
  }
  const whole = (async function* () {
    yield* head;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  })();
  const kind = detectCompression(Buffer.concat(head));
  if (kind === 'none') yield* whole;
  else if (kind === 'gzip') yield* gunzip(whole);
  else yield* unzstd(whole);
}

async function* gunzip(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const inflater = createGunzip();
  const feeding = pipeline(Readable.from(input), inflater);
  feeding.catch(() => undefined);
  try {
    for await (const piece of inflater) yield piece as Buffer;
    await feeding;
  } catch (err) {
    throw new DecompressionError(`gzip: ${(err as Error).message}`);
  } finally {
    inflater.destroy();
  }
}

async function* unzstd(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);
  const feeding = pipeline(Readable.from(input), child.stdin);
  feeding.catch(() => undefined);
  let finished = false;
  try {
    for await (const piece of child.stdout) yield piece as Buffer;
    const code = await exited;
    if (code !== 0) throw new DecompressionError(`zstd exited with ${code}: ${stderr.trim()}`);
    await feeding;
    finished = true;
  } catch (err) {
    if (err instanceof DecompressionError) throw err;
    throw new DecompressionError(`zstd: ${(err as Error).message}${stderr ? ` (${stderr.trim()})` : ''}`);
  } finally {
    if (!finished) child.kill();
  }
}
