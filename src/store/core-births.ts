/**
 * When each core was first opened in this process, so that the sweep (core-sweep.ts) can spare
 * the cores of the log this node is on that it cannot name.
 *
 * A core with no session looks unused, but autobase keeps cores of its log closed for a while:
 * it makes a view core for the next set of indexers, closes it and opens it again when it
 * migrates to it (`createView`), and a fast-forward opens, releases and reopens the views. A
 * sweep that deleted one in between (three nodes in one process sweeping as each move
 * settled: 4 runs of 6 s in 20) made autobase open it again empty, with the prologue its manifest
 * names, and close the log for good: `Truncation breaks prologue`, the failure two chaos soaks
 * met 0.6 s after a sweep that ran 0.9 s after an adoption. Every such core is opened first
 * after its log began to open here, while the cores of a log left behind were opened before
 * the move; so the sweep keeps those born since the log this node is on began to open.
 *
 * After a restart every core is new to the process: a peer's channel that reopens a core of a
 * log left behind makes it look born on the current log, and it waits for the sweep after the
 * next move.
 */
import type Corestore from 'corestore'
import type { Clock } from '../clock.ts'

export class CoreBirths {
  /** Discovery key (hex) to when it was first opened. */
  private readonly first = new Map<string, number>()

  constructor(store: Corestore, clock: Pick<Clock, 'now'>) {
    store.watch((core: { discoveryKey: Buffer | null }) => {
      if (!core.discoveryKey) return
      const id = core.discoveryKey.toString('hex')
      if (!this.first.has(id)) this.first.set(id, clock.now())
    })
  }

  /** The discovery keys (hex) of the cores first opened at `at` or later. */
  since(at: number): string[] {
    const out: string[] = []
    for (const [id, t] of this.first) if (t >= at) out.push(id)
    return out
  }

  /** Deleted cores (discovery keys, hex): born again if they are made again. */
  forget(ids: Iterable<string>): void {
    for (const id of ids) this.first.delete(id)
  }
}
