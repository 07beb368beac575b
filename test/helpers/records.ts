import type { Download } from '../../src/store/record.ts'
import type { FileRef } from '../../src/store/file-store.ts'

/** A 10-byte file that no node holds. */
export const FILE_REF: FileRef = {
  node: 'node-a',
  name: 'file-000000',
  byteLength: 10,
  sha256: 'ab'.repeat(32),
}

let seq = 0

/** A valid record with sensible defaults; override what the test is about. */
export function download(over: Partial<Download> = {}): Download {
  seq++
  return {
    id: `dl${seq}`,
    userId: 'user-1',
    state: 'pending',
    progress: 0,
    file: null,
    error: null,
    owner: 'node-a',
    ownerName: 'a',
    epoch: 1,
    version: 1,
    createdAt: 1000,
    updatedAt: 1000,
    finishedAt: null,
    expiresAt: 100_000,
    checkpoint: null,
    params: {},
    attempt: 1,
    attempts: 1,
    retryAt: null,
    ...over,
  }
}

export function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  const out: T[][] = []
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)]))
      out.push([item, ...rest])
  })
  return out
}
