/**
 * Fails a source that sends nothing for `silenceMs` while we wait for it. Only time spent waiting on the
 * source counts: while we hold the source back ourselves (backpressure), the host is not silent.
 * One interval timer per transfer, not one per chunk: the host sends tens of thousands of chunks a second.
 */
export async function* withSilenceLimit<T>(
  source: AsyncIterable<T>,
  silenceMs: number,
  onSilence: () => Error,
  abortSource: (err: Error) => void,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let waitingSince: number | undefined;
  let tripped: Error | undefined;
  const timer = setInterval(
    () => {
      if (waitingSince !== undefined && !tripped && performance.now() - waitingSince >= silenceMs) {
        tripped = onSilence();
        abortSource(tripped);
      }
    },
    Math.max(10, Math.min(1000, silenceMs / 4)),
  );
  timer.unref();
  try {
    for (;;) {
      waitingSince = performance.now();
      let r: IteratorResult<T>;
      try {
        r = await it.next();
      } catch (err) {
        throw tripped ?? err;
      } finally {
        waitingSince = undefined;
      }
      if (tripped) throw tripped;
      if (r.done) return;
      yield r.value;
    }
  } finally {
    clearInterval(timer);
    await it.return?.();
  }
}
