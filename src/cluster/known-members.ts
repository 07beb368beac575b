/**
 * The members this node has known, kept in its data directory, so that after a restart it
 * knows which cluster to wait for (rejoin.ts), and who votes in its quorum (quorum.ts). A member
 * seen alive is known; one that left cleanly is forgotten; one that died stays known, since it
 * may come back, until the quorum forgets it (quorum-watch.ts).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Member } from './member.ts'

const FILE = 'members.json'

export class KnownMembers {
  private saving: Promise<void> = Promise.resolve()
  private dirty = false

  private constructor(
    private readonly dataDir: string,
    private readonly selfId: string,
    /** As loaded at start: the cluster this node knew before. */
    readonly before: ReadonlySet<string>,
    private readonly current: Map<string, string>,
  ) {}

  static async load(dataDir: string, selfId: string): Promise<KnownMembers> {
    const known = new Map<string, string>()
    try {
      const saved = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as unknown
      const list = (saved as { members?: unknown }).members
      if (Array.isArray(list)) {
        for (const m of list) {
          const { id, name } = (m ?? {}) as { id?: unknown; name?: unknown }
          if (typeof id === 'string' && typeof name === 'string') known.set(id, name)
        }
      }
    } catch (err) {
      // No file yet (a new node), or an unreadable one: it knew nobody worth waiting for.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError))
        throw err
    }
    known.delete(selfId)
    return new KnownMembers(dataDir, selfId, new Set([selfId, ...known.keys()]), known)
  }

  /** The names of the members this node knew when it started (a restart), but itself. */
  namesBefore(): string[] {
    return [...this.current].filter(([id]) => this.before.has(id)).map(([, name]) => name)
  }

  /** The other members known now: with this node, the ones that vote. */
  ids(): string[] {
    return [...this.current.keys()]
  }

  /** A member dead for long enough no longer counts: saved in the background. */
  forget(id: string): void {
    if (!this.current.delete(id)) return
    this.dirty = true
    this.saving = this.saving.then(() => this.save()).catch(() => {})
  }

  /** Takes in what membership says now; saves in the background when it changed. */
  update(members: Member[]): void {
    for (const m of members) {
      // This node is not one of the others: counted once, by the quorum itself.
      if (m.id === this.selfId) continue
      if (m.status === 'left') this.dirty = this.current.delete(m.id) || this.dirty
      else if (m.status === 'alive' && this.current.get(m.id) !== m.name) {
        this.current.set(m.id, m.name)
        this.dirty = true
      }
    }
    if (this.dirty) this.saving = this.saving.then(() => this.save()).catch(() => {})
  }

  private async save(): Promise<void> {
    if (!this.dirty) return
    this.dirty = false
    const members = [...this.current].map(([id, name]) => ({ id, name }))
    const path = join(this.dataDir, FILE)
    try {
      await writeFile(path + '.tmp', JSON.stringify({ members }) + '\n')
      await rename(path + '.tmp', path)
    } catch (err) {
      // Saved at the next change or flush, not dropped (a full disk, for a moment).
      this.dirty = true
      throw err
    }
  }

  /** Resolves once what was taken in is on disk (tried again if the last save failed). */
  flush(): Promise<void> {
    this.saving = this.saving.then(() => this.save()).catch(() => {})
    return this.saving
  }
}
