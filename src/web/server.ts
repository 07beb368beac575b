/**
 * The HTTP side of a node: the page, the files, health, and the WebSocket upgrade. It speaks
 * to the downloads only through their contract (downloads/service.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import type { DownloadService } from '../downloads/service.ts'
import type { Logger } from '../logger.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Sessions } from './session.ts'
import { labelled, loadAssets, sendAsset } from './assets.ts'
import { originAllowed } from './origin.ts'
import { ClientSockets } from './socket.ts'
import { sendFile } from './file-response.ts'
import { serveStatusSocket } from './status-socket.ts'
import { armIdleTimer, setIdleTimeout } from './idle-timer.ts'
import { requestUrl } from './request-url.ts'
import type { ClusterStatus, NodeSelf } from '../cluster-status.ts'
import { DOWNLOADS_PATH, encode, type CutOff, type PublicMember } from './protocol.ts'

export interface WebServerOptions {
  /** A server already listening (see `listen`); its requests and upgrades are handled here. */
  server: Server
  downloads: DownloadService
  sessions: Sessions
  publicDir: string
  /** What the page calls the file the job makes. @default 'PDF' */
  fileLabel?: string
  /** The status page's figures (cluster-status.ts): this node's own, and the cluster's. */
  status?: { self(): Promise<NodeSelf>; cluster(): Promise<ClusterStatus> }
  /** Serves GET /metrics here (metrics.ts); absent when they have a port of their own. */
  metrics?: () => Promise<{ body: string; contentType: string }>
  log: Logger
  /** Body of GET /healthz; `ok: false` answers 503. */
  health: () => { ok?: boolean }
  /** Body of GET /cluster. */
  cluster: () => object
  /** Other origins (members' URLs, a load balancer's) whose pages may open a socket here. */
  trustedOrigins?: () => Iterable<string>
  /** The live members, sent to every page so it can reconnect elsewhere when this node dies. */
  members?: () => PublicMember[]
  /** Null while this node holds its quorum; else what its pages are told (a `cut-off` message). */
  cutOff?: () => CutOff | null
  /** Client frames are tiny; a larger one closes its socket with 1009. @default 4096 */
  maxFrameBytes?: number
  /** Idle sockets are pinged this often; one that missed the last ping is dropped. @default 20000 */
  pingIntervalMs?: number
  /** Frames one socket may send at once; then `framesPerSecond`. @default 20 */
  frameBurst?: number
  /** @default 10 */
  framesPerSecond?: number
  /** Frames dropped over the limit after which a socket is closed (1008). @default 100 */
  maxDroppedFrames?: number
  /** Sockets that ignore the close frame at shutdown are cut after this. @default 200 */
  closeGraceMs?: number
  clock?: Clock
}

export interface WebServer {
  /** WebSocket connections open now. */
  connections(): number
  /** Tells every connected page the current live members, and that it is cut off if it is. */
  membersChanged(): void
  /** Closes every socket (1001) and stops taking requests. Safe to call twice. */
  close(): Promise<void>
}

/** How long a connection may take over each part of a request; see README, HTTP. */
export interface HttpTimeouts {
  /** To send a request's headers (a half-sent request is closed with 408). @default 10000 */
  headersTimeoutMs?: number
  /** To send a whole request. @default 30000 */
  requestTimeoutMs?: number
  /** An idle keep-alive connection is closed after this. @default 5000 */
  keepAliveTimeoutMs?: number
  /** A connection that carries nothing for this long is closed (not a WebSocket). @default 60000 */
  idleTimeoutMs?: number
}

/** One function for every socket's errors (a closure each would stay with every WebSocket). */
function destroyOnError(this: Duplex): void {
  this.destroy()
}

/**
 * Binds an HTTP server, so the node knows its URL before anything else is built. Until
 * `createWebServer` takes it over, it answers every request and upgrade with 503 and a
 * `Retry-After`, so a health check or a page that comes early is told to come back.
 */
export function listen(
  port: number,
  host: string,
  {
    headersTimeoutMs = 10_000,
    requestTimeoutMs = 30_000,
    keepAliveTimeoutMs = 5_000,
    idleTimeoutMs = 60_000,
  }: HttpTimeouts = {},
): Promise<{ server: Server; port: number }> {
  // The request and headers timeouts are enforced by a sweep: run it often enough to matter.
  const sweepMs = Math.max(100, Math.min(1000, headersTimeoutMs / 4))
  const server = createServer({ connectionsCheckingInterval: sweepMs }, (req, res) => {
    armIdleTimer(req)
    res.setHeader('retry-after', '1')
    text(res, 503, 'This node is starting; retry in a moment.')
  })
  server.headersTimeout = headersTimeoutMs
  server.requestTimeout = requestTimeoutMs
  server.keepAliveTimeout = keepAliveTimeoutMs
  setIdleTimeout(server, idleTimeoutMs)
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', destroyOnError)
    refuse(socket, 503, 'This node is starting; retry in a moment.')
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      const address = server.address()
      resolve({ server, port: typeof address === 'object' && address ? address.port : port })
    })
  })
}

export function createWebServer(o: WebServerOptions): WebServer {
  const {
    server,
    downloads,
    sessions,
    log,
    maxFrameBytes = 4096,
    pingIntervalMs = 20_000,
    frameBurst = 20,
    framesPerSecond = 10,
    maxDroppedFrames = 100,
    closeGraceMs = 200,
    clock = systemClock,
  } = o
  const assets = loadAssets(o.publicDir)
  const index = assets.get('/index.html')
  const page = index && labelled(index, o.fileLabel ?? 'PDF')
  const statusPage = assets.get('/status.html')
  // The pages' sockets are tracked by `sockets` alone: ws's own tracking would cost each of
  // thousands of idle sockets a set entry, a closure and a second 'close' listener.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    clientTracking: false,
  })
  const statusWss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes })
  const members = o.members ?? (() => [])
  const cutOff = o.cutOff ?? (() => null)
  /** Whether pages were told this node is cut off: they hear when it no longer is. */
  let toldCut = false
  const sockets = new ClientSockets({
    downloads,
    ticket: (userId) => sessions.ticket(userId, clock.now()),
    members,
    cutOff: () => {
      const cut = cutOff()
      if (cut) toldCut = true
      return cut
    },
    pingIntervalMs,
    frameBurst,
    framesPerSecond,
    maxDroppedFrames,
    clock,
    log,
  })

  // The starting node's 503 answers (see `listen`) give way to the real routes.
  server.removeAllListeners('request')
  server.removeAllListeners('upgrade')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    armIdleTimer(req)
    handle(req, res).catch((err: Error & { code?: string }) => {
      // A browser that stops a download half-way is not an error of the node.
      if (err.code === 'ERR_STREAM_PREMATURE_CLOSE') return void res.destroy()
      log.error('http-failed', { url: withoutTicket(req.url), error: err.message })
      if (!res.headersSent) text(res, 500, 'Internal error')
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url)
    if (!url) return text(res, 400, 'Bad request: the URL does not parse.')
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'Method not allowed')
    if (url.pathname === '/healthz') {
      const body = o.health()
      return json(res, body.ok === false ? 503 : 200, body)
    }
    if (url.pathname === '/cluster') return json(res, 200, o.cluster())
    if (url.pathname === '/status.json' && o.status) return json(res, 200, await o.status.self())
    if (url.pathname === '/status' && statusPage) return sendAsset(res, statusPage)
    if (url.pathname === '/metrics' && o.metrics) {
      const { body, contentType } = await o.metrics()
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
      return void res.end(body)
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const headers: Record<string, string> = {}
      if (!sessions.fromCookieHeader(req.headers.cookie)) {
        headers['set-cookie'] = sessions.issue().setCookie
      }
      return page ? sendAsset(res, page, headers) : text(res, 404, 'Not found')
    }
    if (url.pathname.startsWith(DOWNLOADS_PATH)) {
      const id = decodeURIComponentSafe(url.pathname.slice(DOWNLOADS_PATH.length))
      return download(req, res, id)
    }
    const asset = assets.get(url.pathname)
    if (asset) return sendAsset(res, asset)
    text(res, 404, 'Not found')
  }

  async function download(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // A page whose own node died fetches its file from the node it reconnected to: allow its
    // origin if it is a member's (or an allowed one), with the session cookie.
    const origin = req.headers.origin
    if (origin && allowed(req)) {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('access-control-allow-credentials', 'true')
      res.setHeader('access-control-expose-headers', 'retry-after, content-disposition')
      res.setHeader('vary', 'origin')
    }
    const userId = sessions.fromRequest(req.url, req.headers.cookie, clock.now())?.userId
    const valid = id !== '' && !id.includes('/')
    const found = userId && valid ? await downloads.openFile(id, userId) : null
    if (!found) return text(res, 404, 'No such download (it may have expired).')
    if (found === 'not-ready') {
      res.setHeader('retry-after', '2')
      return text(
        res,
        503,
        'The file is being made again (the server that made it stopped); retry shortly.',
      )
    }
    if (!found.content) {
      // Said, not silent: a file its maker's node holds but this one cannot reach is what an
      // operator looks for when pages report "not available on this server yet".
      log.warn('file-unreachable', { id, user: userId })
      res.setHeader('retry-after', '2')
      return text(res, 503, 'The file is not available on this node yet; retry shortly.')
    }
    await sendFile(req, res, found, found.content)
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError)
    // Node calls this listener synchronously: a throw here would end the process.
    try {
      upgrade(req, socket, head)
    } catch (err) {
      log.error('upgrade-failed', { url: withoutTicket(req.url), error: (err as Error).message })
      refuse(socket, 500, 'Internal error')
    }
  })

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = requestUrl(req.url)
    if (!url) return refuse(socket, 400, 'Bad request: the URL does not parse.')
    if (url.pathname === '/status/ws' && o.status) {
      const cluster = o.status.cluster
      if (!allowed(req)) return refuse(socket, 403, 'Foreign origin.')
      return statusWss.handleUpgrade(req, socket, head, (ws) =>
        serveStatusSocket(ws, cluster, clock, log),
      )
    }
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not found')
    const user = sessions.fromRequest(req.url, req.headers.cookie, clock.now())
    if (!user) return refuse(socket, 401, 'No valid session: load the page first.')
    const { userId } = user
    if (!allowed(req)) return refuse(socket, 403, 'Foreign origin.')
    // Only a socket its cookie let in is given tickets: a ticket found in a log or a copied
    // link then dies within its 15 minutes instead of renewing itself.
    const ticketed = user.by === 'cookie'
    // A connection that made requests before its upgrade has the idle timer: not a socket's.
    if ((socket as Socket).timeout) (socket as Socket).setTimeout(0)
    wss.handleUpgrade(req, socket, head, (ws) => sockets.serve(ws, userId, ticketed))
  }

  function allowed(req: IncomingMessage): boolean {
    const proto = req.headers['x-forwarded-proto']
    return originAllowed(
      req.headers.origin,
      { host: req.headers.host, forwardedProto: Array.isArray(proto) ? proto[0] : proto },
      o.trustedOrigins?.() ?? [],
    )
  }

  let closing: Promise<void> | null = null
  return {
    connections: () => sockets.size + statusWss.clients.size,
    membersChanged() {
      const messages = [encode({ type: 'members', members: members() })]
      const cut = cutOff()
      if (cut) messages.push(encode({ type: 'cut-off', ...cut }))
      else if (toldCut) messages.push(encode({ type: 'cut-off-ended' }))
      toldCut = cut !== null
      for (const ws of sockets.all())
        if (ws.readyState === ws.OPEN) for (const m of messages) ws.send(m)
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        sockets.stop()
        const open = () => [...sockets.all(), ...statusWss.clients]
        for (const ws of open()) ws.close(1001, 'Node shutting down')
        wss.close()
        statusWss.close()
        server.close(() => resolve())
        server.closeAllConnections()
        // Sockets that ignore the close frame must not hold the shutdown.
        clock.setTimeout(() => {
          for (const ws of open()) ws.terminate()
        }, closeGraceMs)
      })
      return closing
    },
  }
}

/** Content-Disposition for a generated file; names outside ASCII also go as RFC 5987. */
/** A request's URL for the log: a ticket in it is a credential, and stays out. */
function withoutTicket(url: string | undefined): string | undefined {
  return url?.replace(/([?&]ticket=)[^&]*/, '$1…')
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    500: 'Internal Server Error',
    503: 'Service Unavailable',
  }
  const reason = reasons[status] ?? 'Error'
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  )
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
