import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

// /export?use_compression=zstd|gzip|true: the host compresses the XVA itself (no Content-Encoding).
// "true" means gzip, as on hosts from before zstd support.

export type ExportCompression = 'none' | 'gzip' | 'zstd';

export function parseCompression(value: string | null): ExportCompression | undefined {
  if (value === null || value === '' || value === 'false') return 'none';
  if (value === 'true' || value === 'gzip') return 'gzip';
  if (value === 'zstd') return 'zstd';
  return undefined;
}

export function compress(source: AsyncIterable<Buffer>, kind: ExportCompression): AsyncIterable<Buffer> {
  if (kind === 'gzip') return gzip(source);
  if (kind === 'zstd') return zstd(source);
  return source;
}

async function* gzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  const deflater = createGzip();
  input.on('error', (err) => deflater.destroy(err));
  input.pipe(deflater);
  try {
    for await (const piece of deflater) yield piece as Buffer;
  } finally {
    input.destroy();
    deflater.destroy();
  }
}

async function* zstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-q', '-c', '-3', '--no-progress'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const input = Readable.from(source, { objectMode: false });
  let sourceError: unknown;
  input.on('error', (err) => {
    sourceError = err;
    child.kill();
  });
  // The child may exit (killed on abort) while we still write: that is reported by the exit status below.
  child.stdin.on('error', () => undefined);
  input.pipe(child.stdin);
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let finished = false;
  try {
    for await (const piece of child.stdout) yield piece as Buffer;
    const code = await exited;
    if (sourceError) throw sourceError;
    if (code !== 0) throw new Error(`zstd exited with ${code}`);
    finished = true;
  } finally {
    input.destroy();
    if (!finished) child.kill();
  }
}
