/**
 * Files copied over the cluster's links (store/disk-files.ts keeps them). A node that wants a
 * file asks the nodes that may hold it, its maker first, for a window of its bytes at a time;
 * the holder reads that window from its disk and sends it in chunks, then says where the file
 * ends. The next window is asked for once the last is written, so neither side holds more
 * than a window of a file in memory, however large it is, and a copy cut off half-way (its
 * holder died, the link dropped, nothing came for a while) goes on from where it stopped with
 * the next node that holds the file.
 */
import type { Link, Transport } from './transport.ts'
import { NoHolderError, type FilePeers } from '../store/file-fetch.ts'
import { FILE_NAME, type DiskFileRef } from '../store/record.ts'
import { OpenFile } from '../store/file-io.ts'
import type { Clock, Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'

/** Bytes asked for at once: a few round trips a megabyte hold no link back. */
export const WINDOW_BYTES = 1024 * 1024
/** One chunk of a window: small beside the link's other traffic (heartbeats, progress). */
const CHUNK_BYTES = 64 * 1024

export interface FileTransferOptions {
  /** Where a file of this name would be kept (null: no file has it); opening it says if it is. */
  files: { pathOf(name: string): Promise<string | null> }
  clock: Clock
  /** A holder that sends nothing for this long is left for the next. @default 5000 */
  stallMs?: number
  log: Logger
}

/** One window asked of one holder. */
interface Ask {
  link: Link
  /** A chunk at this offset of the file. */
  chunk(at: number, data: Buffer): void
  end(size: number): void
  fail(err: Error): void
}

class NotHere extends Error {}
/** This node could not write what arrived (its disk, or more bytes than the record says). */
class LocalError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

export class FileTransfer implements FilePeers {
  private nextId = 1
  private readonly asks = new Map<number, Ask>()
  /** The windows being sent on each link, one after another. */
  private readonly serving = new Map<Link, Promise<void>>()
  private readonly stallMs: number

  constructor(
    private readonly transport: Transport,
    private readonly o: FileTransferOptions,
  ) {
    this.stallMs = o.stallMs ?? 5000
    transport.on('message', (link, m) => this.onMessage(link, m))
    transport.on('close', (link) => {
      for (const ask of [...this.asks.values()])
        if (ask.link === link) ask.fail(new Error('the link closed'))
    })
  }

  async fetch(
    ref: DiskFileRef,
    write: (chunk: Buffer) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    let got = 0
    const tried = new Set<Link>()
    let lastError: Error | null = null
    for (;;) {
      signal.throwIfAborted()
      const link = this.holder(ref, tried)
      if (!link) {
        // Holders that were asked and failed are a copy that failed; none to ask is not.
        if (!lastError) throw new NoHolderError()
        throw new Error(`no node reachable holds the file: ${lastError.message}`)
      }
      tried.add(link)
      try {
        for (;;) {
          const before = got
          const size = await this.window(link, ref.name, got, write, signal, (n) => (got += n))
          if (size !== ref.byteLength)
            throw new Error(`the holder's copy is ${size} bytes, not ${ref.byteLength}`)
          if (got >= size) return
          if (got === before) throw new Error('the holder sent nothing')
        }
      } catch (err) {
        if (signal.aborted) throw signal.reason
        // Another holder would not help.
        if (err instanceof LocalError) throw err.cause
        // One that does not hold it is not a failure: the next is asked.
        if (err instanceof NotHere) continue
        lastError = err as Error
        this.o.log.warn('file-copy-interrupted', {
          file: ref.name,
          from: link.memberId,
          at: got,
          error: lastError.message,
        })
      }
    }
  }

  /** The next link to ask: the maker's, then every other member's, each once. */
  private holder(ref: DiskFileRef, tried: Set<Link>): Link | null {
    const links = [...this.transport.links].filter((l) => l.memberId && !tried.has(l))
    return links.find((l) => l.memberId === ref.node) ?? links[0] ?? null
  }

  /**
   * Asks `link` for the window from `from`, handing each chunk to `write` in order; resolves
   * with the file's size on the holder once the window is written.
   */
  private window(
    link: Link,
    name: string,
    from: number,
    write: (chunk: Buffer) => Promise<void>,
    signal: AbortSignal,
    wrote: (n: number) => void,
  ): Promise<number> {
    const id = this.nextId++
    if (signal.aborted) return Promise.reject(signal.reason as Error)
    if (!this.transport.links.has(link)) return Promise.reject(new Error('the link closed'))
    return new Promise<number>((resolve, reject) => {
      let written = Promise.resolve()
      let timer: Timer | null = null
      const done = (f: () => void) => {
        if (!this.asks.delete(id)) return
        if (timer) this.o.clock.clearTimeout(timer)
        signal.removeEventListener('abort', aborted)
        f()
      }
      const stalled = () => {
        if (timer) this.o.clock.clearTimeout(timer)
        timer = this.o.clock.setTimeout(
          () => ask.fail(new Error(`nothing for ${this.stallMs} ms`)),
          this.stallMs,
        )
      }
      let failed = false
      let next = from
      const ask: Ask = {
        link,
        chunk: (at, data) => {
          if (failed) return
          // Each chunk where the last ended, and none past the window asked for.
          if (at !== next || data.length === 0 || at + data.length > from + WINDOW_BYTES)
            return ask.fail(new Error(`a chunk at ${at} of ${data.length} bytes, expected ${next}`))
          next += data.length
          stalled()
          // Written in order, each after the last; a failed write fails the window.
          written = written.then(async () => {
            if (failed) return
            try {
              await write(data)
            } catch (err) {
              throw new LocalError(err)
            }
            wrote(data.length)
          })
          written.catch((err: Error) => ask.fail(err))
        },
        end: (size) => {
          if (failed) return
          if (timer) this.o.clock.clearTimeout(timer)
          written.then(
            () => done(() => resolve(size)),
            (err: Error) => ask.fail(err),
          )
        },
        // Once the write under way is done, so that what was handed over is counted exactly
        // and the next holder is asked from there; the chunks still queued are dropped.
        fail: (err) => {
          if (failed) return
          failed = true
          if (timer) this.o.clock.clearTimeout(timer)
          void written.catch(() => {}).then(() => done(() => reject(err)))
        },
      }
      const aborted = () => ask.fail(signal.reason as Error)
      signal.addEventListener('abort', aborted)
      this.asks.set(id, ask)
      stalled()
      link.send({ type: 'file-want', id, name, from, length: WINDOW_BYTES })
    })
  }

  private onMessage(link: Link, m: unknown): void {
    if (typeof m !== 'object' || m === null) return
    const msg = m as Record<string, unknown>
    switch (msg.type) {
      case 'file-want': {
        // One window at a time per link: a burst of wants (a new keeper's) queues here, a
        // megabyte at most in the link's buffer, beside its records and heartbeats.
        const serving = (this.serving.get(link) ?? Promise.resolve()).then(() =>
          this.serve(link, msg).catch((err: Error) => {
            this.o.log.warn('file-serve-failed', {
              to: link.memberId,
              file: typeof msg.name === 'string' ? msg.name.slice(0, 64) : null,
              error: err.message,
            })
            if (isCount(msg.id)) link.send({ type: 'file-none', id: msg.id })
          }),
        )
        this.serving.set(link, serving)
        void serving.then(() => {
          if (this.serving.get(link) === serving) this.serving.delete(link)
        })
        return
      }
      case 'file-part': {
        const ask = this.askOf(link, msg.id)
        if (ask && isCount(msg.at) && Buffer.isBuffer(msg.data)) ask.chunk(msg.at, msg.data)
        return
      }
      case 'file-window': {
        const ask = this.askOf(link, msg.id)
        if (ask && isCount(msg.size)) ask.end(msg.size)
        return
      }
      case 'file-none':
        this.askOf(link, msg.id)?.fail(new NotHere('not held there'))
        return
    }
  }

  /** The window asked of this link under this id (never one asked of another link). */
  private askOf(link: Link, id: unknown): Ask | null {
    const ask = typeof id === 'number' ? this.asks.get(id) : undefined
    return ask && ask.link === link ? ask : null
  }

  /** Sends the window a peer asked for, read from the disk a chunk at a time. */
  private async serve(link: Link, m: Record<string, unknown>): Promise<void> {
    const { id, name, from, length } = m
    if (!isCount(id) || !isCount(from) || !isCount(length)) return
    if (typeof name !== 'string' || !FILE_NAME.test(name)) return
    const path = await this.o.files.pathOf(name)
    if (!path) return link.send({ type: 'file-none', id })
    // A file removed meanwhile (purged) is not held any more.
    const file = OpenFile.read(path)
    if (!file) return link.send({ type: 'file-none', id })
    try {
      const size = file.size()
      const end = Math.min(size, from + Math.min(length, WINDOW_BYTES))
      for (let at = from; at < end;) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - at))
        const bytesRead = await file.read(buf, at)
        if (bytesRead === 0) break
        link.sendBytes({ type: 'file-part', id, at }, buf.subarray(0, bytesRead))
        at += bytesRead
      }
      link.send({ type: 'file-window', id, size })
    } finally {
      file.close()
    }
  }
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0
}
