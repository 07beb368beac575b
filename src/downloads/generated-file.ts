/**
 * What a generator returned, checked: a file of the contract's shape (generator.ts), or what
 * is wrong with it; and a stream the node will not store, let go.
 */
import { isContentType } from '../store/record.ts'
import type { GeneratedFile } from './generator.ts'

/** What is wrong with a generator's result, or null. */
export function wrongFile(file: unknown): string | null {
  if (typeof file !== 'object' || file === null) return `${String(file)} instead of a file`
  const f = file as Record<string, unknown>
  if (typeof f.filename !== 'string') return 'no filename'
  if (typeof f.contentType !== 'string' || !isContentType(f.contentType))
    return `an invalid content type ${JSON.stringify(f.contentType ?? null).slice(0, 80)}`
  const bytes = Buffer.isBuffer(f.bytes) || f.bytes instanceof Uint8Array
  const stream = typeof (f.stream as { pipe?: unknown } | undefined)?.pipe === 'function'
  if (bytes === stream)
    return 'a file with neither or both of bytes (a Buffer) and stream (a Readable)'
  return null
}

/** Lets go of a file's stream that will not be stored. */
export function discard(file: GeneratedFile | undefined): void {
  const stream = (file as { stream?: { destroy?: unknown } } | undefined)?.stream
  if (typeof stream?.destroy === 'function') (stream as { destroy(): void }).destroy()
}
