/**
 * A small load balancer for tests, in the role of the seed's nginx: it proxies HTTP requests
 * and WebSocket upgrades to the first backend that accepts the connection, round-robin, and
 * skips backends that refuse. `rewriteHost` sends the backend's own host instead of the
 * client's, as a proxy without `proxy_set_header Host` does.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'

export interface Balancer {
  url: string
  close(): Promise<void>
}

export async function startBalancer(
  backends: () => string[],
  rewriteHost = false,
): Promise<Balancer> {
  let next = 0
  const pick = (): URL[] => {
    const list = backends().map((b) => new URL(b))
    const start = next++ % Math.max(1, list.length)
    return [...list.slice(start), ...list.slice(0, start)]
  }
  const headersFor = (req: IncomingMessage, target: URL) => ({
    ...req.headers,
    ...(rewriteHost ? { host: target.host } : {}),
  })

  const server: Server = createServer((req, res) => {
    const tryNext = (targets: URL[]) => {
      const target = targets.shift()
      if (!target) return void res.writeHead(502).end('no backend')
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: headersFor(req, target),
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers)
          r.pipe(res)
          // A backend that dies mid-response must not leave the client waiting forever.
          r.on('aborted', () => res.destroy())
          r.on('error', () => res.destroy())
        },
      )
      upstream.on('error', () => (res.headersSent ? res.destroy() : tryNext(targets)))
      req.pipe(upstream)
    }
    tryNext(pick())
  })
  const tunnels = new Set<Socket>()
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => {})
    tunnels.add(client)
    client.on('close', () => tunnels.delete(client))
    const tryNext = (targets: URL[]) => {
      const target = targets.shift()
      if (!target) return void client.destroy()
      const upstream = connect(Number(target.port), target.hostname, () => {
        const headers = headersFor(req, target)
        const lines = [
          `${req.method} ${req.url} HTTP/1.1`,
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ]
        upstream.write(lines.join('\r\n') + '\r\n\r\n')
        upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      upstream.on('error', () =>
        upstream.readyState === 'opening' ? tryNext(targets) : client.destroy(),
      )
      upstream.on('close', () => client.destroy())
      client.on('close', () => upstream.destroy())
    }
    tryNext(pick())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        // Upgraded sockets are no longer the HTTP server's: close them here.
        for (const t of tunnels) t.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
