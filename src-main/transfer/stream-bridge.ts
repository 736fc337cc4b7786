import type { ChunkSink } from './transfer-pipeline.js';

/**
 * Turns the pipeline's output into an AsyncIterable for a consumer that pulls (a format writer): each write
 * resolves when the consumer has taken the chunk, so backpressure from the writer reaches the pipeline.
 */
export class StreamBridge implements ChunkSink, AsyncIterable<Buffer> {
  private pending: { chunk: Buffer; taken: () => void } | undefined;
  private waiting: ((r: IteratorResult<Buffer>) => void) | undefined;
  private ended = false;
  private failure: unknown;
  private wakeWriter: (() => void) | undefined;

  write(chunk: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((taken, reject) => {
      const deliver = () => {
        if (this.failure) return reject(this.failure);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w({ value: chunk, done: false });
          taken();
        } else {
          this.pending = { chunk, taken };
        }
      };
      if (this.pending) this.wakeWriter = deliver;
      else deliver();
    });
  }

  end(): void {
    this.ended = true;
    if (this.waiting && !this.pending) this.waiting({ value: undefined, done: true });
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.wakeWriter?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () =>
        new Promise<IteratorResult<Buffer>>((resolve) => {
          if (this.pending) {
            const p = this.pending;
            this.pending = undefined;
            p.taken();
            const wake = this.wakeWriter;
            this.wakeWriter = undefined;
            wake?.();
            return resolve({ value: p.chunk, done: false });
          }
          if (this.ended) return resolve({ value: undefined, done: true });
          this.waiting = resolve;
        }),
      return: async () => {
        this.fail(new Error('the reader stopped'));
        return { value: undefined, done: true };
      },
    };
  }
}
