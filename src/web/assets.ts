/**
 * The page's static files, read once at start. Only files present then are served: no path
 * from a URL ever reaches the filesystem.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { ServerResponse } from 'node:http'

export interface Asset {
  body: Buffer
  type: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
}

/** The files at the top of `dir` that a browser may load, by URL path. */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type) assets.set(`/${name}`, { body: readFileSync(join(dir, name)), type })
  }
  return assets
}

/**
 * The page with every "PDF" in its words made `label` (what the node's job makes: "CSV
 * export", "file"), HTML-escaped; the page script reads it from `<html data-label>`.
 */
export function labelled(page: Asset, label: string): Asset {
  if (label === 'PDF') return page
  const safe = label.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
  return { ...page, body: Buffer.from(page.body.toString('utf8').replaceAll('PDF', () => safe)) }
}

export function sendAsset(
  res: ServerResponse,
  asset: Asset,
  headers: Record<string, string> = {},
): void {
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...headers })
  res.end(asset.body)
}
