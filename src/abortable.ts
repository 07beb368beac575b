/** Waiting on what a signal may cut short. */

/**
 * The iterator's next result, or the signal's reason once it is aborted, whichever is first. A
 * promise of its own per call: racing every call against one long-lived abort promise keeps
 * each result reachable from it (200 MB of chunks held, in the large-file test).
 */
export function nextUnlessAborted<T>(
  it: AsyncIterator<T>,
  signal?: AbortSignal,
): Promise<IteratorResult<T>> {
  if (!signal) return it.next()
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    it.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort)
        resolve(result)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
