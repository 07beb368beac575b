/**
 * A ready download's file as an HTTP response: streamed from the store as it is read (a large
 * file never sits whole in memory), with its length, and a single byte range on request so a
 * browser or `curl -C -` can resume a download that was cut. Several ranges at once (rare, and
 * a multipart body) get the whole file, as RFC 9110 allows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import parseRange from 'range-parser'
import type { OpenedFile } from '../downloads/service.ts'

export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: OpenedFile,
  content: NonNullable<OpenedFile['content']>,
): Promise<void> {
  const { size } = content
  // A download's file never changes: its id is its validator, so a browser may resume it.
  const etag = `"${file.id}"`
  const headers = {
    'content-type': file.contentType,
    'content-disposition': attachment(file.filename),
    'cache-control': 'private, no-store',
    'accept-ranges': 'bytes',
    etag,
  }
  // A range asked "if the file is still <etag>" about another file gets the whole of this one.
  const ifRange = req.headers['if-range']
  const wanted = req.headers.range && (!ifRange || ifRange === etag) ? req.headers.range : null
  // -2: no range, or one that cannot be parsed, which is ignored (the whole file).
  const ranges = wanted ? parseRange(size, wanted, { combine: true }) : -2
  if (ranges === -1) {
    res.writeHead(416, {
      'content-range': `bytes */${size}`,
      'accept-ranges': 'bytes',
      'content-length': 0,
      etag,
    })
    return void res.end()
  }
  const range =
    Array.isArray(ranges) && ranges.type === 'bytes' && ranges.length === 1 ? ranges[0] : undefined
  if (range) {
    res.writeHead(206, {
      ...headers,
      'content-length': range.end - range.start + 1,
      'content-range': `bytes ${range.start}-${range.end}/${size}`,
    })
  } else res.writeHead(200, { ...headers, 'content-length': size })
  if (req.method === 'HEAD') return void res.end()
  await pipeline(content.stream(range && { start: range.start, end: range.end }), res)
}

/** The header that makes a browser save the file under its name, non-ASCII names included. */
function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_')
  const header = `attachment; filename="${ascii}"`
  return ascii === filename ? header : `${header}; filename*=UTF-8''${encodeURIComponent(filename)}`
}
