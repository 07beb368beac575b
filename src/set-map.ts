/**
 * A map from a key to a set of values, where a key whose set empties is removed: the index a
 * lookup by user needs (the record table's records, the supervisor's workers) without the
 * scan of everything it replaces.
 */
export class SetMap<K, V> {
  private readonly sets = new Map<K, Set<V>>()

  add(key: K, value: V): void {
    let set = this.sets.get(key)
    if (!set) this.sets.set(key, (set = new Set()))
    set.add(value)
  }

  delete(key: K, value: V): void {
    const set = this.sets.get(key)
    if (set?.delete(value) && set.size === 0) this.sets.delete(key)
  }

  /** The values under `key`, empty if none: read it, do not keep it across changes. */
  get(key: K): ReadonlySet<V> {
    return this.sets.get(key) ?? EMPTY
  }

  /** Keys with at least one value. */
  get size(): number {
    return this.sets.size
  }
}

const EMPTY: ReadonlySet<never> = new Set()
