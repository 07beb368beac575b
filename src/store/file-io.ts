/**
 * The file calls of the files beside the log, made synchronously except the syncs, the bytes
 * of a large file and a removal. A file here is usually a few KB, and each promise-based call
 * is a hop to libuv's thread pool and back: on this two-core machine about 0.15 ms of system
 * CPU each, against 10 to 20 µs for the call itself on a file in the page cache (DESIGN.md,
 * "Files"). Writing, naming, copying and serving a download's file took a dozen such hops,
 * about a tenth of the CPU a download cost the cluster. Opening, renaming and looking at a file
 * on a local disk return at once, and so does writing or reading the first SYNC_BYTES of one.
 * Past that (a large stream) the bytes go through the thread pool: written synchronously, a
 * fast 200 MB stream held the event loop for up to 1.9 s (each write returns at once, so the
 * loop over the stream yields to nothing but promises, and a write may wait for the kernel to
 * flush dirty pages). A sync waits on the disk itself, and a purge may remove thousands of
 * files at once after a node was down: those stay on the pool too. The price: a disk that
 * hangs now holds the event loop, not only the pool's threads; the node then stops answering
 * its peers, which take its downloads over, where before it kept its heartbeats with a store
 * that could not write.
 */
import {
  closeSync,
  fdatasync,
  fstatSync,
  openSync,
  read,
  readSync,
  renameSync,
  rmSync,
  statSync,
  write,
  writeSync,
} from 'node:fs'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'

/** Bytes of a file written or read synchronously, from its start. */
export const SYNC_BYTES = 256 * 1024

const writeAsync = promisify(write)
const readAsync = promisify(read)

/** A file open for writing or reading by its descriptor, closed once. */
export class OpenFile {
  private closed = false

  private constructor(readonly fd: number) {}

  /** Creates (or empties) `path` for writing. */
  static create(path: string): OpenFile {
    return new OpenFile(openSync(path, 'w'))
  }

  /** Opens `path` for reading, or null if it cannot be (not there, or not readable here). */
  static read(path: string): OpenFile | null {
    try {
      return new OpenFile(openSync(path, 'r'))
    } catch {
      return null
    }
  }

  /** Writes all of `chunk` at `position`. */
  async write(chunk: Uint8Array, position: number): Promise<void> {
    const sync = position + chunk.length <= SYNC_BYTES
    for (let done = 0; done < chunk.length;) {
      const [offset, length, at] = [done, chunk.length - done, position + done]
      done += sync
        ? writeSync(this.fd, chunk, offset, length, at)
        : (await writeAsync(this.fd, chunk, offset, length, at)).bytesWritten
    }
  }

  /** Reads up to `buffer.length` bytes at `position`; 0 at the end. */
  async read(buffer: Buffer, position: number): Promise<number> {
    return position + buffer.length <= SYNC_BYTES
      ? readSync(this.fd, buffer, 0, buffer.length, position)
      : (await readAsync(this.fd, buffer, 0, buffer.length, position)).bytesRead
  }

  size(): number {
    return fstatSync(this.fd).size
  }

  /** Waits until the file's bytes are on the disk, off the event loop. */
  datasync(): Promise<void> {
    return new Promise((resolve, reject) =>
      fdatasync(this.fd, (err) => (err ? reject(err) : resolve())),
    )
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
  }
}

export function renameFile(from: string, to: string): void {
  renameSync(from, to)
}

/** Removes a file if it is there, on the thread pool (see above). */
export function removeFile(path: string): Promise<void> {
  return rm(path, { force: true })
}

/** The file's size, or null if there is none (or it cannot be looked at: not held, then). */
export function sizeOf(path: string): number | null {
  try {
    return statSync(path, { throwIfNoEntry: false })?.size ?? null
  } catch {
    return null
  }
}

/**
 * Removes a file if it can, at once (a failed write's part, before its name is used again):
 * what stays is a crash's leftover, which a start removes.
 */
export function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true })
  } catch {
    // DiskFileStore.ready removes the parts left behind.
  }
}
