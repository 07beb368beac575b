/**
 * Several record operations in one block of the log. What a node appends in one turn of its
 * event loop (group commit, log-base.ts) and what a compaction seeds a fresh log with go out as
 * packs rather than a block each: autobase's work (hashing, linearising, the view's append, a
 * reader's fetch) is per block, and a compaction that carries four thousand dismissals would
 * otherwise write four thousand blocks. A block holding one operation stays a plain operation,
 * as logs written before packs existed hold.
 *
 * A pack is read operation by operation: one that does not parse is dropped, the rest apply.
 */
import { parseOp, type RecordOp } from './record.ts'

export interface OpPack {
  type: 'ops'
  ops: RecordOp[]
}

/** The most operations a pack read from the log may hold (a writer's packs hold far fewer). */
export const MAX_PACK_OPS = 4096

/** What a pack written here holds at most, as JSON: small enough to replicate as one message. */
export const PACK_BYTES = 64 * 1024

/** The record operations a block of the log holds: none if it holds none that parse. */
export function opsOf(value: unknown): RecordOp[] {
  if (typeof value !== 'object' || value === null) return []
  const o = value as { type?: unknown; ops?: unknown }
  if (o.type !== 'ops') {
    const op = parseOp(value)
    return op ? [op] : []
  }
  if (!Array.isArray(o.ops) || o.ops.length > MAX_PACK_OPS) return []
  const ops: RecordOp[] = []
  for (const v of o.ops) {
    const op = parseOp(v)
    if (op) ops.push(op)
  }
  return ops
}

/**
 * The blocks that hold `ops`, in order: consecutive operations packed up to `maxBytes` of JSON
 * each (an operation larger than that alone in its block), a block of one left unpacked.
 */
export function packOps(ops: RecordOp[], maxBytes = PACK_BYTES): (RecordOp | OpPack)[] {
  const blocks: (RecordOp | OpPack)[] = []
  let pack: RecordOp[] = []
  let bytes = 0
  const flush = () => {
    if (pack.length === 1) blocks.push(pack[0]!)
    else if (pack.length > 1) blocks.push({ type: 'ops', ops: pack })
    pack = []
    bytes = 0
  }
  for (const op of ops) {
    // A comma between operations, and the pack's own envelope, stay well inside the margin.
    const size = JSON.stringify(op).length + 1
    if (pack.length > 0 && (bytes + size > maxBytes - 64 || pack.length >= MAX_PACK_OPS)) flush()
    pack.push(op)
    bytes += size
  }
  flush()
  return blocks
}
