/**
 * The copies a node makes of its peers' files, so that a file outlives the node that made it
 * (file-store.ts). Files asked for in one turn are copied together, one hypercore download per
 * run of adjacent blocks: a burst of downloads finishing together makes tens of files in a row
 * on one core, and every range a core tracks costs its replicator work at each update (one
 * range per file cost a burst about a fifth of its CPU). A range that gets no block for
 * `giveUpMs` is dropped: its maker died before any copy was made, or purged a file in it, and a
 * range left waiting would stay tracked for good and fetch again what this node clears at the
 * purge. One still receiving blocks (a slow link, a large file) is left to finish. A node still
 * serves a dropped file by fetching it when it is asked for.
 */
import type { Clock, Timer } from '../clock.ts'

/** Blocks `start` (inclusive) to `end` (exclusive) of one core. */
export interface BlockRange {
  start: number
  end: number
}

/** What file-copies needs of a core: hypercore's `download` and `has`. */
export interface CopySource {
  download(range: BlockRange): { done(): Promise<void>; destroy(): void }
  has(index: number): Promise<boolean>
}

/**
 * The fewest ranges that cover these, joining only ranges that touch or overlap: a gap may hold
 * blocks nobody has any more (a purged file, cleared), and a range that waits for one of them
 * never completes. Pure; the input is left as it is.
 */
export function coverRanges(ranges: readonly BlockRange[]): BlockRange[] {
  const sorted = [...ranges].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start)
  const out: BlockRange[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end)
    else out.push({ start: r.start, end: r.end })
  }
  return out
}

/** The parts of `range` outside `gone` (none, one or two). Pure. */
export function without(range: BlockRange, gone: BlockRange): BlockRange[] {
  if (gone.end <= range.start || gone.start >= range.end) return [range]
  const out: BlockRange[] = []
  if (gone.start > range.start) out.push({ start: range.start, end: gone.start })
  if (gone.end < range.end) out.push({ start: gone.end, end: range.end })
  return out
}

/** How many blocks of the range this node holds; 0 if the core cannot say. */
async function heldIn(core: CopySource, range: BlockRange): Promise<number> {
  let n = 0
  try {
    for (let i = range.start; i < range.end; i++) if (await core.has(i)) n++
  } catch {
    // closed meanwhile
  }
  return n
}

/** A download under way, with its give-up timer. */
interface Copy {
  range: BlockRange
  /** Cancels the download and forgets it. */
  stop(): void
}

export class FileCopies {
  /** Ranges to copy, by core key, gathered until the end of the turn. */
  private pending = new Map<string, BlockRange[]>()
  /** Ranges whose core is being opened, by core key. */
  private readonly starting = new Map<string, Set<BlockRange[]>>()
  /** Downloads under way, by core key. */
  private readonly active = new Map<string, Set<Copy>>()
  private readonly timers = new Set<Timer>()
  private closed = false

  constructor(
    private readonly o: {
      /** The core of that key (hex), opened. */
      core(key: string): Promise<CopySource>
      clock: Clock
      giveUpMs: number
    },
  ) {}

  add(key: string, range: BlockRange): void {
    if (this.closed) return
    const ranges = this.pending.get(key)
    if (ranges) return void ranges.push(range)
    this.pending.set(key, [range])
    if (this.pending.size === 1) setImmediate(() => this.start())
  }

  /**
   * These blocks are about to be cleared here (their file was purged): nothing may copy them
   * back. A download that covers them, waiting for other files of its range, would fetch them
   * again once cleared, for good, since the purge is done; it is cancelled and the rest of its
   * range asked for anew.
   */
  forget(key: string, gone: BlockRange): void {
    const trim = (ranges: BlockRange[]) =>
      ranges.splice(0, ranges.length, ...ranges.flatMap((r) => without(r, gone)))
    const pending = this.pending.get(key)
    if (pending) trim(pending)
    for (const ranges of this.starting.get(key) ?? []) trim(ranges)
    for (const copy of [...(this.active.get(key) ?? [])]) {
      const rest = without(copy.range, gone)
      if (rest.length === 1 && rest[0] === copy.range) continue
      copy.stop()
      for (const range of rest) this.add(key, range)
    }
  }

  /** Stops copying: the cores' own close cancels the downloads under way. */
  close(): void {
    this.closed = true
    this.pending.clear()
    for (const timer of this.timers) this.o.clock.clearTimeout(timer)
    this.timers.clear()
  }

  private start(): void {
    if (this.closed) return
    const pending = this.pending
    this.pending = new Map()
    for (const [key, ranges] of pending) {
      const starting = this.starting.get(key) ?? new Set()
      this.starting.set(key, starting.add(ranges))
      const started = () => {
        starting.delete(ranges)
        if (starting.size === 0) this.starting.delete(key)
      }
      this.o
        .core(key)
        .then(
          (core) => {
            started()
            if (!this.closed) for (const range of coverRanges(ranges)) this.copy(key, core, range)
          },
          started, // a core that cannot be opened now: the file is fetched when asked for
        )
        .catch(() => {})
    }
  }

  private copy(key: string, core: CopySource, range: BlockRange): void {
    const download = core.download(range)
    let timer: Timer | null = null
    let held = 0
    const copies = this.active.get(key) ?? new Set()
    this.active.set(key, copies)
    const end = () => {
      if (timer) {
        this.o.clock.clearTimeout(timer)
        this.timers.delete(timer)
        timer = null
      }
      if (!copies.delete(copy)) return false
      if (copies.size === 0 && this.active.get(key) === copies) this.active.delete(key)
      return true
    }
    const copy: Copy = {
      range,
      stop: () => {
        if (end()) download.destroy()
      },
    }
    copies.add(copy)
    const watch = () => {
      timer = this.o.clock.setTimeout(() => {
        if (timer) this.timers.delete(timer)
        timer = null
        void heldIn(core, range).then((now) => {
          if (!copies.has(copy) || this.closed) return
          if (now > held) {
            held = now
            watch()
          } else copy.stop()
        })
      }, this.o.giveUpMs)
      this.timers.add(timer)
    }
    watch()
    download.done().then(end, end)
  }
}
