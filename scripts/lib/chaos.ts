/**
 * The soak's chaos (`--kill-every`): every so often one node, each in turn, is killed with
 * SIGKILL (its whole process group, as a crash or the OOM killer would), left down for a while
 * and started again on the same data directory. The users on it lose their sockets and go on
 * through the other nodes (soak-user.ts), so the run checks what a crash promises: every
 * download still made once, its file served, nothing stuck, and the cluster back to rest.
 *
 * No kill while the users are held (the soak is measuring the disk at rest), and one node down
 * at a time: with two of three down the other has no quorum and, by design, stops working.
 */
import { accepting, type ProcessCluster } from './processes.ts'

/** How long a restarted node may take to accept downloads again before the run says so. */
const BACK_TIMEOUT_MS = 120_000

export interface Kill {
  node: string
  /** When the SIGKILL was sent. */
  at: Date
  /** From the SIGKILL until the node accepted downloads again; null: it did not. */
  backAfterMs: number | null
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class Chaos {
  readonly kills: Kill[] = []
  private readonly down = new Set<number>()
  private stopped = false
  private running: Promise<void> | null = null
  private wake: (() => void) | null = null

  constructor(
    private readonly c: ProcessCluster,
    private readonly o: { everyMs: number; downMs: number; holding: () => boolean },
  ) {}

  start(): void {
    if (!this.stopped) this.running ??= this.loop()
  }

  /** Stops killing; waits for a node that is down to be back. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.running
  }

  /** Whether node i is up (not killed and waiting to be started again). */
  isUp(i: number): boolean {
    return !this.down.has(i)
  }

  private async loop(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.everyMs)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      if (this.stopped) return
      // A node not back from the last kill is not joined by another.
      if (this.o.holding() || this.down.size > 0) continue
      await this.killAndRestart(this.kills.length % this.c.nodes.length)
    }
  }

  private async killAndRestart(i: number): Promise<void> {
    const n = this.c.nodes[i]!
    const kill: Kill = { node: n.name, at: new Date(), backAfterMs: null }
    this.kills.push(kill)
    this.down.add(i)
    this.c.signal(i, 'SIGKILL')
    console.log(`chaos: ${n.name} killed (SIGKILL) at ${kill.at.toISOString().slice(11, 23)}`)
    while (n.child) await sleep(50)
    await sleep(this.o.downMs)
    try {
      await this.c.start(i)
    } catch (err) {
      console.log(`chaos: ${n.name} DID NOT START: ${(err as Error).message.split('\n')[0]}`)
      return
    }
    const deadline = Date.now() + BACK_TIMEOUT_MS
    while (!(await accepting(n.url))) {
      if (Date.now() > deadline) {
        console.log(`chaos: ${n.name} NOT BACK ${BACK_TIMEOUT_MS / 1000} s after its restart`)
        return
      }
      await sleep(250)
    }
    this.down.delete(i)
    kill.backAfterMs = Date.now() - kill.at.getTime()
    console.log(`chaos: ${n.name} back, accepting downloads ${kill.backAfterMs} ms after the kill`)
  }
}
