/**
 * Decides, from the last time anyone heard from each member, which ones to suspect and which
 * to declare dead. Pure over the times it is given. Two guards against false verdicts on a
 * member that is merely busy or badly connected: evidence from peers counts (a member someone
 * else heard recently is not suspected), and a stall of this node's own event loop is not
 * counted against anyone (Lifeguard's local health idea).
 */
import { isLiveStatus, type Member } from './member.ts'

export interface DetectorTimings {
  /** Silence after which a member is suspected. */
  suspectAfterMs: number
  /** How long a suspicion stands unrefuted (and silent) before the member is declared dead. */
  suspicionMs: number
}

export class FailureDetector {
  private readonly lastHeard = new Map<string, number>()
  private readonly suspectedAt = new Map<string, number>()

  constructor(private readonly t: DetectorTimings) {}

  /** Direct or relayed evidence that the member was alive at `at`. */
  heard(id: string, at: number): void {
    const last = this.lastHeard.get(id)
    if (last === undefined || at > last) this.lastHeard.set(id, at)
  }

  /** How long ago each member was last heard of, for peers to use as evidence. */
  ages(now: number): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, at] of this.lastHeard) out[id] = Math.max(0, now - at)
    return out
  }

  /** A new incarnation of a member starts with a clean slate. */
  reset(id: string, now: number): void {
    this.lastHeard.set(id, now)
    this.suspectedAt.delete(id)
  }

  /** This node's own event loop stalled for `ms`: nobody could be heard meanwhile. */
  stalled(ms: number): void {
    for (const [id, at] of this.lastHeard) this.lastHeard.set(id, at + ms)
    for (const [id, at] of this.suspectedAt) this.suspectedAt.set(id, at + ms)
  }

  /** The verdicts due at `now` for the given members (this node excluded by the caller). */
  verdicts(now: number, members: Member[]): { suspect: string[]; dead: string[] } {
    const suspect: string[] = []
    const dead: string[] = []
    for (const m of members) {
      if (!isLiveStatus(m.status)) {
        this.suspectedAt.delete(m.id)
        continue
      }
      let last = this.lastHeard.get(m.id)
      if (last === undefined) this.lastHeard.set(m.id, (last = now))
      const silentMs = now - last
      if (m.status === 'alive') {
        this.suspectedAt.delete(m.id)
        if (silentMs >= this.t.suspectAfterMs) {
          suspect.push(m.id)
          this.suspectedAt.set(m.id, now)
        }
        continue
      }
      let since = this.suspectedAt.get(m.id)
      if (since === undefined) this.suspectedAt.set(m.id, (since = now))
      if (now - since >= this.t.suspicionMs && silentMs >= this.t.suspectAfterMs) dead.push(m.id)
    }
    return { suspect, dead }
  }
}
