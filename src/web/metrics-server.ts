/**
 * /metrics on a port of its own (--metrics-port), for an operator who keeps the page public
 * and the metrics on an internal address: it answers GET /metrics and nothing else.
 */
import { createServer, type Server } from 'node:http'
import { requestUrl } from './request-url.ts'

export async function serveMetrics(
  host: string,
  port: number,
  scrape: () => Promise<{ body: string; contentType: string }>,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = requestUrl(req.url)?.pathname
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      return void res.end('Only GET /metrics is served here.\n')
    }
    scrape().then(
      ({ body, contentType }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(`metrics failed: ${err.message}\n`)
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((err: Error) => {
    throw new Error(`cannot listen for metrics on ${host}:${port}: ${err.message}`)
  })
  const address = server.address()
  return { server, port: typeof address === 'object' && address ? address.port : port }
}
