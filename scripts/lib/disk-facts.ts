/**
 * What the disk under the bench's data directories is, printed with its figures: on ext4
 * without a journal (this project's machine; many VMs' disks) a new file's inode costs a scan
 * past every inode freed near it lately, so the cluster's figures there depend on what was
 * removed in the minutes before (DESIGN.md, "Files"). BullMQ keeps its files in Redis.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'

export interface DiskFacts {
  /** The directory asked about, resolved. */
  path: string
  mountPoint: string
  fsType: string
  device: string
  /** Whether an ext4 file system has a journal; null for other file systems. */
  journal: boolean | null
}

/**
 * The mount holding `path` (the longest mount point it is under), from /proc/self/mountinfo's
 * text, and whether its ext4 has a journal, from the names in /proc/fs/jbd2 (`<device>-<inode>`).
 */
export function diskFactsFrom(path: string, mountinfo: string, jbd2: string[]): DiskFacts | null {
  let best: Omit<DiskFacts, 'path' | 'journal'> | null = null
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const mountPoint = unescape(left.split(' ')[4] ?? '')
    const [fsType = '', device = ''] = right.split(' ')
    const under =
      path === mountPoint || path.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`)
    if (under && (!best || mountPoint.length >= best.mountPoint.length))
      best = { mountPoint, fsType, device: unescape(device) }
  }
  if (!best) return null
  const name = best.device.split('/').pop() ?? ''
  const journal = best.fsType === 'ext4' ? jbd2.some((e) => e.startsWith(`${name}-`)) : null
  return { path, ...best, journal }
}

/** mountinfo escapes a space, a tab, a newline and a backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** The facts of the disk under `dir` on this machine (Linux), or null where they cannot be read. */
export function diskFacts(dir: string): DiskFacts | null {
  try {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
    // No /proc/fs/jbd2 (jbd2 not loaded): no ext4 of this machine has a journal.
    const jbd2 = existsSync('/proc/fs/jbd2') ? readdirSync('/proc/fs/jbd2') : []
    return diskFactsFrom(realpathSync(dir), mountinfo, jbd2)
  } catch {
    return null
  }
}

/** One line for the bench's header. */
export function describeDisk(d: DiskFacts | null): string {
  if (!d) return 'data disk: unknown'
  const journal = d.journal === null ? '' : d.journal ? ' with a journal' : ' without a journal'
  const note =
    d.journal === false
      ? ' (a new file costs a scan of the inodes freed lately: DESIGN.md, "Files")'
      : ''
  return `data under ${d.path}: ${d.fsType}${journal} on ${d.device}${note}`
}
