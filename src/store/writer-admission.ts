/**
 * The log's apply function: what autobase runs, on every node, to turn the writers' operations
 * into the view. Record operations and packs of them (op-pack.ts) pass through to the view
 * (the table folds them); a writer
 * addition admits a key once, as an indexer while there are fewer than `MAX_INDEXERS`.
 *
 * Deterministic, as autobase requires: it may run again over the same operations in another
 * order, and must give the same view from the same system state.
 */
import type { ApplyHost, ApplyNode } from 'autobase'
import type Hypercore from 'hypercore'
import { opsOf } from './op-pack.ts'

/** Indexers sign the log's settled prefix; a majority must be writing. See DESIGN.md. */
export const MAX_INDEXERS = 3

export interface WriterOp {
  type: 'add-writer'
  /** Hex key of the writer's local core. */
  key: string
}

export function isWriterOp(v: unknown): v is WriterOp {
  const o = v as WriterOp | null
  return (
    typeof o === 'object' &&
    o !== null &&
    o.type === 'add-writer' &&
    typeof o.key === 'string' &&
    /^[0-9a-f]{64}$/.test(o.key)
  )
}

interface SystemView {
  has(key: Buffer): Promise<boolean>
  indexers: unknown[]
}

/**
 * Only record operations and writer additions ever reach the view; anything else a writer
 * appends is dropped here, so a reader never meets it. Losing one indexer of three still
 * leaves a signing majority; later writers are plain writers.
 */
export async function applyNodes(
  nodes: ApplyNode[],
  view: Hypercore,
  host: ApplyHost & { system?: SystemView },
): Promise<void> {
  for (const node of nodes) {
    const value = node.value
    if (isWriterOp(value)) {
      const key = Buffer.from(value.key, 'hex')
      if (host.system && (await host.system.has(key))) continue
      const indexer = (host.system?.indexers.length ?? 0) < MAX_INDEXERS
      await host.addWriter(key, { indexer })
      await view.append(value)
      continue
    }
    if (opsOf(value).length > 0) await view.append(value)
  }
}
