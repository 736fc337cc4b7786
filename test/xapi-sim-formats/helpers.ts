import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-formats-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function toFile(stream: AsyncIterable<Buffer>, path: string): Promise<void> {
  await pipeline(Readable.from(stream), createWriteStream(path));
}

export async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of stream) parts.push(piece);
  return Buffer.concat(parts);
}

export async function run(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** qemu's vpc driver sizes "caml" images by CHS geometry unless told to trust the footer's current_size. */
export function vpcImageOpts(path: string): string {
  return `driver=vpc,force_size_calc=current_size,file.filename=${path}`;
}

export async function* fromBuffer(buf: Buffer, pieceSize = 100_000): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += pieceSize) yield buf.subarray(at, Math.min(buf.length, at + pieceSize));
}
