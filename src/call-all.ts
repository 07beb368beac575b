/**
 * Calls every listener of an app's with a value, each whatever the one before did: one that
 * throws kept the others from hearing of a change (a library user's second listener never saw
 * its download ready). What they threw is thrown after, for the node to log: the one error, or
 * an AggregateError naming each.
 */
export function callAll<T>(listeners: Iterable<(value: T) => void>, value: T, what: string): void {
  const thrown: unknown[] = []
  for (const listener of listeners) {
    try {
      listener(value)
    } catch (err) {
      thrown.push(err)
    }
  }
  if (thrown.length === 1) throw thrown[0]
  if (thrown.length > 1) {
    const each = thrown.map((e) => (e instanceof Error ? e.message : String(e)))
    throw new AggregateError(thrown, `${thrown.length} ${what} threw: ${each.join('; ')}`)
  }
}
