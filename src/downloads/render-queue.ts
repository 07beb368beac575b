/**
 * Synchronous rendering, one job per turn of the event loop. PDFKit lays a document out in
 * one synchronous stretch (2 to 10 ms here); downloads started together finish together, and
 * thirty renders started by one timer ran back to back for 300 ms, holding up every progress
 * tick, heartbeat and socket meanwhile (the relay's p99). Queued, each render waits for the
 * previous one and for a fresh turn (`setImmediate` queued from a running immediate runs on
 * the next iteration, after the I/O that arrived), so the longest stall is one render.
 */
export class RenderQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private waiting = 0

  /** Renders queued and not yet started. */
  get length(): number {
    return this.waiting
  }

  run<T>(render: () => Promise<T> | T): Promise<T> {
    this.waiting++
    const turn = this.tail.then(
      () =>
        new Promise<T>((resolve, reject) =>
          setImmediate(() => {
            this.waiting--
            try {
              resolve(render())
            } catch (err) {
              reject(err)
            }
          }),
        ),
    )
    // A render that fails must not stop the ones behind it.
    this.tail = turn.catch(() => undefined)
    return turn
  }
}
