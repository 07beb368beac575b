/**
 * Which log a node is on, kept in its data directory: the autobase key and the corestore
 * namespace that holds this node's writer for it. A restart reopens the same log.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface LogPointer {
  key: string
  namespace: string
  /** The log's generation (log-advert.ts); pointers written before compaction existed: 0. */
  generation: number
}

const FILE = 'log.json'

export async function readPointer(dataDir: string): Promise<LogPointer | null> {
  try {
    const p = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as Partial<LogPointer>
    const generation = p.generation ?? 0
    return typeof p.key === 'string' &&
      /^[0-9a-f]{64}$/.test(p.key) &&
      typeof p.namespace === 'string' &&
      Number.isSafeInteger(generation) &&
      generation >= 0
      ? { key: p.key, namespace: p.namespace, generation }
      : null
  } catch {
    return null
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a pointer. */
export async function savePointer(dataDir: string, pointer: LogPointer): Promise<void> {
  const path = join(dataDir, FILE)
  await writeFile(path + '.tmp', JSON.stringify(pointer) + '\n')
  await rename(path + '.tmp', path)
}

/**
 * One data directory's pointer and the writes of it, one after another: two moves close
 * together would otherwise write the same temporary file at once, and the earlier could land
 * last.
 */
export class PointerFile {
  /** What the file says, once read or written. */
  current: LogPointer | null = null
  private writes: Promise<void> = Promise.resolve()

  constructor(private readonly dataDir: string) {}

  async read(): Promise<LogPointer | null> {
    return (this.current = await readPointer(this.dataDir))
  }

  /**
   * Writes `pointer` after the writes before it, unless `still()` says false by then: a pointer
   * to a base the node has moved on from would make a restart reopen the base it left (a test
   * under load did).
   */
  save(pointer: LogPointer, still: () => boolean = () => true): Promise<void> {
    const write = this.writes.then(async () => {
      if (!still()) return
      await savePointer(this.dataDir, pointer)
      this.current = pointer
    })
    this.writes = write.catch(() => {})
    return write
  }

  /** Resolves once every write started so far has landed or failed. */
  written(): Promise<void> {
    return this.writes
  }
}
