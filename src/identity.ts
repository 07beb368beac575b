/** A node's stable id, kept in its data directory so a restart is the same member. */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { nanoid } from 'nanoid'

export async function loadIdentity(dataDir: string): Promise<string> {
  const path = join(dataDir, 'node-id')
  try {
    const id = (await readFile(path, 'utf8')).trim()
    if (/^[A-Za-z0-9_-]{21}$/.test(id)) return id
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const id = nanoid()
  await mkdir(dataDir, { recursive: true })
  await writeFile(path, id + '\n')
  return id
}
