/**
 * Where generated files live. The interface is what the rest of the node relies on; this
 * implementation keeps them in the node's data directory.
 */
import { createReadStream } from 'node:fs'
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'

export interface StoredFile {
  size: number
  stream(): Readable
}

export interface FileStore {
  put(id: string, bytes: Buffer): Promise<void>
  /** Null when this node does not hold the file. */
  open(id: string): Promise<StoredFile | null>
  remove(id: string): Promise<void>
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/

export class DiskFileStore implements FileStore {
  constructor(private readonly dir: string) {}

  private path(id: string): string {
    // Ids come from records and URLs: never let one name a path outside the folder.
    if (!SAFE_ID.test(id)) throw new Error(`invalid file id: ${JSON.stringify(id)}`)
    return join(this.dir, `${id}.bin`)
  }

  async put(id: string, bytes: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const path = this.path(id)
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, bytes)
    await rename(tmp, path)
  }

  async open(id: string): Promise<StoredFile | null> {
    if (!SAFE_ID.test(id)) return null
    const path = this.path(id)
    try {
      const { size } = await stat(path)
      return { size, stream: () => createReadStream(path) }
    } catch {
      return null
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true })
  }
}
