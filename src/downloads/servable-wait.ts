/**
 * A page told "ready" by one node may ask another (behind a load balancer, or after a
 * reconnect) a few milliseconds before the record has replicated there: a file request waits
 * a moment for it rather than answer 404 for a file that exists. All waits share one listener
 * on the repository, however many requests wait (2,000 at once raised a MaxListeners warning
 * when each had its own).
 */
import type { Download } from '../store/record.ts'
import type { DownloadRepository } from '../store/repository.ts'
import type { Clock } from '../clock.ts'

export class ServableWait {
  /** Requests waiting for their record, by download id. */
  private readonly waiting = new Map<string, Set<(d: Download | null) => void>>()

  constructor(
    private readonly repo: DownloadRepository,
    private readonly clock: Clock,
    private readonly waitMs: number,
  ) {
    repo.on('change', () => {
      if (this.waiting.size > 0) this.wake()
    })
  }

  /** The record if its file may be served here now, or within `waitMs`; else null. */
  async servable(id: string): Promise<Download | null> {
    return this.repo.servable(id) ?? (await this.until(id))
  }

  private until(id: string): Promise<Download | null> {
    return new Promise((resolve) => {
      let waiters = this.waiting.get(id)
      if (!waiters) this.waiting.set(id, (waiters = new Set()))
      const done = (d: Download | null) => {
        this.clock.clearTimeout(timer)
        waiters.delete(done)
        if (waiters.size === 0 && this.waiting.get(id) === waiters) this.waiting.delete(id)
        resolve(d)
      }
      const timer = this.clock.setTimeout(() => done(null), this.waitMs)
      waiters.add(done)
    })
  }

  private wake(): void {
    for (const [id, waiters] of this.waiting) {
      const d = this.repo.servable(id)
      if (d) for (const done of [...waiters]) done(d)
    }
  }
}
