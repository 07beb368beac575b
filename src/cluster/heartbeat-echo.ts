/**
 * Heartbeat round trips without a ping of their own: every beat carries, for each member whose
 * beat reached the sender lately, that beat's `now` and how long the sender held it. A member
 * gets its own clock reading back, so its round trip is measured on its clock alone, whatever
 * the skew between the two. Pure: the cluster feeds it times.
 */

/** A member's beat is echoed back to it for this long after it arrived. */
const ECHO_FRESH_MS = 2000

export type Echo = Record<string, [sentAt: number, heldMs: number]>

export class HeartbeatEcho {
  /** Each member's last beat: its clock then, and when it came (this node's clock). */
  private readonly last = new Map<string, { sentAt: number; receivedAt: number }>()

  constructor(private readonly selfId: string) {}

  /** A member's beat arrived at `now`, sent at `sentAt` on its clock. */
  received(memberId: string, sentAt: number, now: number): void {
    this.last.set(memberId, { sentAt, receivedAt: now })
  }

  /** What this node's next beat echoes; members gone quiet are forgotten. */
  echo(now: number): Echo {
    const echo: Echo = {}
    for (const [id, e] of this.last) {
      if (now - e.receivedAt <= ECHO_FRESH_MS) echo[id] = [e.sentAt, now - e.receivedAt]
      else this.last.delete(id)
    }
    return echo
  }

  /** The round trip a member's echo of this node's beat gives, in ms, or null. */
  roundTrip(echo: Echo | undefined, now: number): number | null {
    const mine = echo?.[this.selfId]
    if (!mine) return null
    const rtt = now - mine[0] - mine[1]
    return rtt >= 0 && rtt < ECHO_FRESH_MS ? rtt : null
  }
}
