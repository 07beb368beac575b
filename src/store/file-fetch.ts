/**
 * A copy of a peer's file under way (store/disk-files.ts): how much of it is written, whether
 * it is done, and its bytes read as they arrive.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { OpenFile, removeQuietly } from './file-io.ts'
import type { DiskFileRef } from './record.ts'

/**
 * No node that could hold the file is reachable now (its maker down or not linked yet, no copy
 * made): not a failure of the copy itself, which whoever asked tries again or reports
 * (`file-copy-gave-up`, `file-unreachable`).
 */
export class NoHolderError extends Error {
  constructor(why = 'no node reachable holds the file') {
    super(why)
    this.name = 'NoHolderError'
  }
}

/** The nodes that may hold a file, as this store reaches them (cluster/file-transfer.ts). */
export interface FilePeers {
  /**
   * Hands the file's bytes to `write`, in order, each chunk awaited before more are asked for;
   * resolves once the whole file has been handed over, rejects if no node holding it can be
   * reached (or the signal is aborted).
   */
  fetch(
    ref: DiskFileRef,
    write: (chunk: Buffer) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void>
}

/** Chunks a file is read in while it is still arriving. */
const CHUNK_BYTES = 64 * 1024

export class FileFetch {
  written = 0
  /** Null while under way; then whether the whole file is here, checked. */
  ok: boolean | null = null
  error: Error | null = null
  readonly abort = new AbortController()
  /** Settles once the copy is done, whichever way. */
  readonly settled: Promise<void>
  private settle!: () => void
  private waiters: (() => void)[] = []

  constructor() {
    this.settled = new Promise((resolve) => (this.settle = resolve))
  }

  /** Resolves at the next chunk written, or once the copy is done. */
  changed(): Promise<void> {
    if (this.ok !== null) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** More bytes were written. */
  notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  done(error: Error | null): void {
    this.ok = error === null
    this.error = error
    this.notify()
    this.settle()
  }

  /** Resolves once the copy is done. */
  async result(): Promise<boolean> {
    await this.settled
    return this.ok === true
  }

  /**
   * Copies `ref` from the peers into `part`, checks it against its record, syncs it and has
   * `name` give it its name; leaves nothing if it fails or is aborted (the abort is checked
   * once more after the naming: a file removed meanwhile does not stay).
   */
  async copy(
    peers: FilePeers,
    ref: DiskFileRef,
    part: string,
    name: () => Promise<string>,
  ): Promise<void> {
    const signal = this.abort.signal
    const file = OpenFile.create(part)
    const hash = createHash('sha256')
    let named: string | null = null
    try {
      await peers.fetch(
        ref,
        async (chunk) => {
          signal.throwIfAborted()
          if (this.written + chunk.length > ref.byteLength)
            throw new Error('longer than its record says')
          await file.write(chunk, this.written)
          hash.update(chunk)
          this.written += chunk.length
          this.notify()
        },
        signal,
      )
      if (this.written !== ref.byteLength)
        throw new Error(`${this.written} bytes of ${ref.byteLength}`)
      if (hash.digest('hex') !== ref.sha256) throw new Error('its bytes do not match its record')
      await file.datasync()
      file.close()
      signal.throwIfAborted()
      named = await name()
      signal.throwIfAborted()
    } catch (err) {
      file.close()
      removeQuietly(part)
      if (named) removeQuietly(named)
      throw err
    }
  }
}

/**
 * Bytes `start` to `end` (inclusive) of a file still arriving, read from its part (`path` +
 * `.part`) as they are written. The last byte waits for the copy's check: a copy that does not
 * match its record fails the response, which a client that got every byte it was told of would
 * otherwise take as complete.
 */
export async function* arriving(f: FileFetch, path: string, start: number, end: number) {
  // A part renamed once whole stays readable through a handle opened before.
  const fh = await open(f.ok ? path : `${path}.part`, 'r')
    .catch(() => open(path, 'r'))
    .catch((err: unknown) => {
      throw f.ok === false ? (f.error ?? err) : err
    })
  try {
    let at = start
    while (at <= end) {
      const last = at === end
      if (at >= f.written || (last && f.ok !== true)) {
        if (f.ok === false) throw f.error ?? new Error('the copy failed')
        if (f.ok === true && at >= f.written) break // a range past the end
        await f.changed()
        continue
      }
      // Up to the byte before the last, until the copy checks out.
      const upTo = f.ok === true ? end + 1 : end
      const n = Math.min(CHUNK_BYTES, f.written - at, upTo - at)
      const buf = Buffer.allocUnsafe(n)
      const { bytesRead } = await fh.read(buf, 0, n, at)
      if (bytesRead === 0) throw new Error('the copy shrank while it was read')
      at += bytesRead
      yield buf.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}
