/**
 * Whether this node's writer in a corestore namespace was made, then deleted. Autobase names a
 * node's writer 'local'; corestore keeps that name's alias when the sweep deletes the core
 * (core-sweep.ts), so opening the name again would fail (`STORAGE_EMPTY`), and a core made
 * again under it would have the old key and fork what peers hold of it (log-moves.ts renews
 * the writer under a new namespace instead).
 */
import type Corestore from 'corestore'

export async function writerDeleted(root: Corestore, namespace: string): Promise<boolean> {
  const store = root.namespace(namespace)
  try {
    const discoveryKey = await store.storage.getAlias({ name: 'local', namespace: store.ns })
    return discoveryKey !== null && !(await store.storage.hasCore(discoveryKey))
  } finally {
    await store.close()
  }
}
