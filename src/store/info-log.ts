/**
 * RocksDB's info log, the `LOG` file beside its data: a few lines for every flush and
 * compaction, and statistics every ten minutes. rocksdb-native sets none of RocksDB's limits
 * on it (no size to roll at, a thousand old ones kept), so it grows for as long as the process
 * runs (about 40 KB a minute per node under the soak's load: 2 GB a month), and every restart
 * renames it to `LOG.old.<time>` and starts another. Nothing reads it back.
 *
 * So the sweep trims it: the old ones are removed, and the live one, past a size, is truncated.
 * RocksDB keeps writing through the descriptor it opened without O_APPEND, at its own offset,
 * so the file becomes sparse: its blocks before that offset are given back (what `du` and a
 * full disk count), its length is not (what `ls` shows). Measured with rocksdb-native 3.18: a
 * 37 KB LOG truncated held 8 KB of blocks after the next flush.
 */
import { readdir, stat, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/** Past this many bytes held, the live LOG is truncated. */
export const INFO_LOG_MAX_BYTES = 1024 * 1024

export interface TrimResult {
  /** Old logs removed. */
  removed: number
  /** Whether the live log was truncated. */
  truncated: boolean
}

/** Removes the old info logs in a RocksDB directory and truncates the live one past `maxBytes`. */
export async function trimInfoLog(
  dbDir: string,
  maxBytes = INFO_LOG_MAX_BYTES,
): Promise<TrimResult> {
  const result: TrimResult = { removed: 0, truncated: false }
  const names = await readdir(dbDir).catch(() => [] as string[])
  for (const name of names) {
    if (!name.startsWith('LOG.old.')) continue
    // Already gone (RocksDB purges old logs past its own limit too): nothing to do.
    if (
      await unlink(join(dbDir, name)).then(
        () => true,
        () => false,
      )
    )
      result.removed++
  }
  const live = join(dbDir, 'LOG')
  const held = await stat(live).then(
    (s) => Math.min(s.size, s.blocks * 512),
    () => 0,
  )
  if (held > maxBytes) {
    await truncate(live, 0)
    result.truncated = true
  }
  return result
}
