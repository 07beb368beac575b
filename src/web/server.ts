/**
 * The HTTP side of a node: the page, the files, health, and the WebSocket upgrade. It speaks
 * to the rest of the node only through the download manager's public contract.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFileSync, readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { WebSocketServer } from 'ws'
import type { DownloadManager } from '../downloads/manager.ts'
import type { Logger } from '../logger.ts'
import type { Sessions } from './session.ts'
import { serveSocket } from './socket.ts'
import { encode, type PublicMember } from './protocol.ts'

/** Client frames are tiny; anything larger is abuse. */
export const MAX_FRAME_BYTES = 4096

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
}

export interface WebServerOptions {
  manager: DownloadManager
  sessions: Sessions
  publicDir: string
  log: Logger
  /** Body of GET /healthz. */
  health: () => object
  /** Body of GET /cluster. */
  cluster: () => object
  /** Other origins (members' URLs, a load balancer's) whose pages may open a socket here. */
  trustedOrigins?: () => Iterable<string>
  /** The live members, sent to every page so it can reconnect elsewhere when this node dies. */
  members?: () => PublicMember[]
}

export interface WebServer {
  server: Server
  /** Tells every connected page the current live members. */
  membersChanged(): void
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

export function createWebServer(o: WebServerOptions): WebServer {
  const assets = loadAssets(o.publicDir)
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
  const members = o.members ?? (() => [])
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      o.log.error('http-failed', { url: req.url, error: err.message })
      if (!res.headersSent) text(res, 500, 'Internal error')
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'Method not allowed')
    if (url.pathname === '/healthz') return json(res, 200, o.health())
    if (url.pathname === '/cluster') return json(res, 200, o.cluster())
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const headers: Record<string, string> = {}
      if (!o.sessions.fromCookieHeader(req.headers.cookie)) {
        headers['set-cookie'] = o.sessions.issue().setCookie
      }
      return asset(res, assets.get('/index.html'), headers)
    }
    const match = /^\/downloads\/([^/]+)$/.exec(url.pathname)
    if (match) return download(req, res, decodeURIComponentSafe(match[1] ?? ''))
    const file = assets.get(url.pathname)
    if (file) return asset(res, file)
    text(res, 404, 'Not found')
  }

  async function download(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // A page whose own node died fetches its file from the node it reconnected to: allow its
    // origin if it is a member's (or an allowed one), with the session cookie.
    const origin = req.headers.origin
    if (origin && originAllowed(req)) {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('access-control-allow-credentials', 'true')
      res.setHeader('access-control-expose-headers', 'retry-after, content-disposition')
      res.setHeader('vary', 'origin')
    }
    const userId = o.sessions.fromCookieHeader(req.headers.cookie)
    const found = userId && id ? await o.manager.openFile(id, userId) : null
    if (!found) return text(res, 404, 'No such download (it may have expired).')
    if (!found.file) {
      res.setHeader('retry-after', '2')
      return text(res, 503, 'The file is not available on this node yet; retry shortly.')
    }
    res.writeHead(200, {
      'content-type': 'application/pdf',
      'content-length': found.file.size,
      'content-disposition': `attachment; filename="report-${found.download.id}.pdf"`,
      'cache-control': 'private, no-store',
    })
    if (req.method === 'HEAD') return void res.end()
    await pipeline(found.file.stream(), res)
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not found')
    const userId = o.sessions.fromCookieHeader(req.headers.cookie)
    if (!userId) return refuse(socket, 401, 'No valid session: load the page first.')
    if (!originAllowed(req)) return refuse(socket, 403, 'Foreign origin.')
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, userId, o.manager, members, o.log))
  })

  function originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    // Browsers always send Origin; scripts may not, and they hold no ambient cookie to abuse.
    if (origin === undefined) return true
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      return false
    }
    if (parsed.host === req.headers.host) return true
    for (const trusted of o.trustedOrigins?.() ?? []) {
      if (new URL(trusted).origin === parsed.origin) return true
    }
    return false
  }

  let closing: Promise<void> | null = null
  return {
    server,
    membersChanged() {
      const message = encode({ type: 'members', members: members() })
      for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(message)
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const address = server.address()
          resolve(typeof address === 'object' && address ? address.port : port)
        })
      })
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.close(1001, 'Node shutting down')
        wss.close()
        server.close(() => resolve())
        server.closeAllConnections()
        // Sockets that ignore the close frame must not hold the shutdown.
        setTimeout(() => {
          for (const ws of wss.clients) ws.terminate()
        }, 200).unref()
      })
      return closing
    },
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Error'
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  )
}

function loadAssets(dir: string): Map<string, { body: Buffer; type: string }> {
  // Only files present at start are served: no path from a URL ever reaches the filesystem.
  const assets = new Map<string, { body: Buffer; type: string }>()
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type) assets.set(`/${name}`, { body: readFileSync(join(dir, name)), type })
  }
  return assets
}

function asset(
  res: ServerResponse,
  file: { body: Buffer; type: string } | undefined,
  headers: Record<string, string> = {},
): void {
  if (!file) return text(res, 404, 'Not found')
  res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...headers })
  res.end(file.body)
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(body)
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return ''
  }
}
