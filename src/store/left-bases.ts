/**
 * The bases this node moved away from, the latest last (a few), with their generation and this
 * node's writer on each. A peer still on one of them while a compaction spreads writes there,
 * and carries it when it follows: its operations are merged ahead of the log (record-log.ts,
 * `mergeEarly`). And this node may come back to one of this generation, as its old writer.
 */
export interface LeftBase {
  key: string
  generation: number
  /** This node's writer core on that base (hex), if it had one. */
  writer: string | null
}

export class LeftBases {
  private readonly list: LeftBase[] = []

  /** Keeps the `kept` latest. */
  constructor(private readonly kept: number) {}

  add(base: LeftBase): void {
    this.list.push(base)
    if (this.list.length > this.kept) this.list.shift()
  }

  has(key: string): boolean {
    return this.list.some((l) => l.key === key)
  }

  /**
   * This node's own writers on the bases of `generation` it left: it may adopt one again
   * (nodes that meet at once each adopt the log of the other, and the election settles a moment
   * later), and its writer there must then be the one the others know, perhaps an indexer.
   */
  writersOf(generation: number): string[] {
    const out: string[] = []
    for (const l of this.list)
      if (l.writer !== null && l.generation === generation) out.push(l.writer)
    return out
  }
}
