/**
 * Requests accepted on this node until they are known to have won. Two nodes asked for the
 * same user at the same moment both accept; the log then holds two live records of one user
 * and every node's read picks the earliest created (record-table.ts). The node that accepted
 * the other one must tell that user's sockets, once.
 */
import type { Download } from '../store/record.ts'
import type { Clock } from '../clock.ts'

interface Race {
  userId: string
  createdAt: number
  until: number
}

export class RaceWatch {
  private readonly racing = new Map<string, Race>()

  /**
   * @param watchMs how long a request is watched: far longer than the log takes to show a
   *   concurrent request made elsewhere.
   */
  constructor(
    private readonly clock: Clock,
    private readonly watchMs: number,
  ) {}

  track(d: Pick<Download, 'id' | 'userId' | 'createdAt'>): void {
    this.racing.set(d.id, {
      userId: d.userId,
      createdAt: d.createdAt,
      until: this.clock.now() + this.watchMs,
    })
  }

  /** The user dismissed: whatever raced is over. */
  settle(userId: string): void {
    for (const [id, race] of this.racing) if (race.userId === userId) this.racing.delete(id)
  }

  /** The ids of this user's requests that lost to `current`, each reported once. */
  lost(userId: string, current: Download | null): string[] {
    const out: string[] = []
    if (!current) return out
    for (const [id, race] of this.racing) {
      if (race.userId !== userId || current.id === id) continue
      // Lost only to one made before (or with) it: a later request means the user moved on.
      if (
        current.createdAt < race.createdAt ||
        (current.createdAt === race.createdAt && current.id < id)
      ) {
        this.racing.delete(id)
        out.push(id)
      }
    }
    return out
  }

  /** Forgets races watched long enough. */
  expire(): void {
    const now = this.clock.now()
    for (const [id, race] of this.racing) if (now > race.until) this.racing.delete(id)
  }
}
