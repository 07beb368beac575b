/**
 * The benchmark's baseline: what a Node team would build instead, BullMQ on Redis. One
 * process plays one "node" of the usual setup: a BullMQ worker plus a web process whose
 * QueueEvents relay progress to its WebSocket clients. It speaks this project's WebSocket
 * protocol (GET / sets a `sid` cookie; `request` / `download` / `error` messages) so the
 * bench drives both systems with the same client code. Not part of the product.
 *
 * The work is the cluster's own: the project's PDF generator (the same ticks, the same
 * rendered report), and the file is kept where a BullMQ user would keep it, in Redis with the
 * retention as its TTL, served from GET /downloads/<id>; so both columns pay for the same CPU
 * and the same bytes.
 *
 * node --import tsx scripts/baseline-node.ts --name b1 --port P --redis-port R --work-ms W
 *   [--lock-ms L --stalled-ms S]   (BullMQ's lock settings; its defaults when absent)
 */
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'
import { Queue, QueueEvents, Worker, Job } from 'bullmq'
import { WebSocketServer, type WebSocket } from 'ws'
import { Redis } from 'ioredis'
import { createPdfGenerator } from '../src/downloads/pdf-generator.ts'

const arg = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? process.argv[i + 1] : fallback
  if (v === undefined) throw new Error(`--${name} is required`)
  return v
}
const name = arg('name')
const port = Number(arg('port'))
const connection = { host: '127.0.0.1', port: Number(arg('redis-port')) }
const workMs = Number(arg('work-ms', '6000'))
const lockMs = process.argv.includes('--lock-ms') ? Number(arg('lock-ms')) : undefined
const stalledMs = process.argv.includes('--stalled-ms') ? Number(arg('stalled-ms')) : undefined
const retentionS = Number(arg('retention-s', '600'))

const queue = new Queue('pdf', { connection })
const events = new QueueEvents('pdf', { connection })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// The worker: the cluster's generator, progress at each of its ticks. A job that a dead
// worker held is restarted from zero by BullMQ once it is found stalled.
const generator = createPdfGenerator({ workMs })
// The files' own connection: BullMQ's may be blocked on its queue commands.
const redis = new Redis(connection)
const fileKey = (id: string) => `pdf:file:${id}`
const worker = new Worker(
  'pdf',
  async (job) => {
    const file = await generator.run(
      {
        id: job.id!,
        userId: (job.data as { userId: string }).userId,
        createdAt: job.timestamp,
        progress: 0,
        checkpoint: null,
        params: {},
        attempt: 1,
        nodeName: name,
      },
      {
        signal: new AbortController().signal,
        report: (p) => {
          job.updateProgress({ p, at: Date.now(), worker: name }).catch(() => {})
        },
      },
    )
    await redis.set(fileKey(job.id!), file.bytes, 'EX', retentionS)
    return { bytes: file.bytes.length, worker: name }
  },
  {
    connection,
    concurrency: 1000,
    ...(lockMs ? { lockDuration: lockMs } : {}),
    ...(stalledMs ? { stalledInterval: stalledMs } : {}),
  },
)
worker.on('error', () => {})

// The web side: sockets by user, fed by QueueEvents.
const sockets = new Map<string, Set<WebSocket>>()
const users = new Map<string, string>() // jobId -> userId
const send = (userId: string, message: object) => {
  for (const ws of sockets.get(userId) ?? [])
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message))
}
async function userOf(jobId: string): Promise<string | undefined> {
  let userId = users.get(jobId)
  if (!userId) {
    const job = await Job.fromId(queue, jobId)
    userId = (job?.data as { userId?: string } | undefined)?.userId
    if (userId) users.set(jobId, userId)
  }
  return userId
}
const record = (id: string, userId: string, fields: object) => ({
  id,
  userId,
  epoch: 1,
  ownerName: '',
  fileUrl: null,
  ...fields,
})

events.on('added', async ({ jobId }) => {
  const userId = await userOf(jobId)
  if (userId)
    send(userId, {
      type: 'download',
      download: record(jobId, userId, { state: 'pending', progress: 0 }),
    })
})
events.on('progress', async ({ jobId, data }) => {
  const userId = await userOf(jobId)
  const d = data as { p: number; at: number; worker: string }
  if (userId)
    send(userId, {
      type: 'download',
      download: record(jobId, userId, {
        state: 'processing',
        progress: d.p,
        progressAt: d.at,
        ownerName: d.worker,
      }),
    })
})
events.on('completed', async ({ jobId, returnvalue }) => {
  const userId = await userOf(jobId)
  const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as {
    worker?: string
  }
  if (userId)
    send(userId, {
      type: 'download',
      download: record(jobId, userId, {
        state: 'ready',
        progress: 100,
        fileUrl: `/downloads/${jobId}`,
        ownerName: r?.worker ?? '',
      }),
    })
})

const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('{"ok":true}')
  if (req.url?.startsWith('/downloads/')) {
    const id = req.url.slice('/downloads/'.length)
    void redis.getBuffer(fileKey(id)).then(
      (bytes) => {
        if (!bytes) return void res.writeHead(404).end('Not found')
        res.writeHead(200, { 'content-type': 'application/pdf' }).end(bytes)
      },
      () => void res.writeHead(500).end('Redis failed'),
    )
    return
  }
  res.writeHead(200, {
    'set-cookie': `sid=${randomBytes(16).toString('base64url')}.baseline; Path=/; HttpOnly`,
    'content-type': 'text/html',
  })
  res.end('<!doctype html><title>baseline</title>')
})
const wss = new WebSocketServer({ server, path: '/ws' })
wss.on('connection', (ws, req) => {
  const userId = /sid=([^.;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'anonymous'
  let set = sockets.get(userId)
  if (!set) sockets.set(userId, (set = new Set()))
  set.add(ws)
  ws.send(JSON.stringify({ type: 'download', download: null }))
  ws.on('message', async (raw) => {
    try {
      const m = JSON.parse(String(raw)) as { type?: string }
      // BullMQ keeps a finished job until its retention whatever the page does: a dismissal
      // only clears what this user's pages show, as the cluster's does.
      if (m.type === 'dismiss') return send(userId, { type: 'download', download: null })
      if (m.type !== 'request') return
      const id = randomBytes(12).toString('base64url')
      users.set(id, userId)
      await queue.add(
        'pdf',
        { userId },
        { jobId: id, removeOnComplete: { age: retentionS }, removeOnFail: { age: retentionS } },
      )
    } catch (err) {
      ws.send(JSON.stringify({ type: 'error', message: (err as Error).message }))
    }
  })
  ws.on('close', () => set.delete(ws))
})

await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()])
server.listen(port, '127.0.0.1', () => console.log(`${name} started url=http://127.0.0.1:${port}`))

const stop = async () => {
  wss.close()
  server.close()
  await Promise.allSettled([worker.close(true), events.close(), queue.close(), redis.quit()])
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
