/**
 * Requests accepted on this node until they are known to have won. Two nodes asked for the
 * same user at the same moment both accept; the log then holds two live records of one user
 * and every node's read picks the earliest created (record-table.ts). The node that accepted
 * the other one must tell that user's sockets, once.
 */
import type { Download } from '../store/record.ts'
import type { Clock } from '../clock.ts'

interface Race {
  createdAt: number
  until: number
}

export class RaceWatch {
  /** By user, then request id: every change of a user's records asks about that user alone. */
  private readonly racing = new Map<string, Map<string, Race>>()

  /**
   * @param watchMs how long a request is watched: far longer than the log takes to show a
   *   concurrent request made elsewhere.
   */
  constructor(
    private readonly clock: Clock,
    private readonly watchMs: number,
  ) {}

  track(d: Pick<Download, 'id' | 'userId' | 'createdAt'>): void {
    let races = this.racing.get(d.userId)
    if (!races) this.racing.set(d.userId, (races = new Map()))
    races.set(d.id, { createdAt: d.createdAt, until: this.clock.now() + this.watchMs })
  }

  /** The user dismissed: whatever raced is over. */
  settle(userId: string): void {
    this.racing.delete(userId)
  }

  /** The ids of this user's requests that lost to `current`, each reported once. */
  lost(userId: string, current: Download | null): string[] {
    const out: string[] = []
    const races = this.racing.get(userId)
    if (!current || !races) return out
    for (const [id, race] of races) {
      if (current.id === id) continue
      // Lost only to one made before (or with) it: a later request means the user moved on.
      if (
        current.createdAt < race.createdAt ||
        (current.createdAt === race.createdAt && current.id < id)
      ) {
        races.delete(id)
        out.push(id)
      }
    }
    if (races.size === 0) this.racing.delete(userId)
    return out
  }

  /** Forgets races watched long enough. */
  expire(): void {
    const now = this.clock.now()
    for (const [userId, races] of this.racing) {
      for (const [id, race] of races) if (now > race.until) races.delete(id)
      if (races.size === 0) this.racing.delete(userId)
    }
  }
}
