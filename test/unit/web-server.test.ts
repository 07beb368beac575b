import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Readable } from 'node:stream'
import { connect } from 'node:net'
import { rejects } from 'node:assert/strict'
import WebSocket from 'ws'
import { createWebServer, listen, type WebServerOptions } from '../../src/web/server.ts'
import type { CutOff } from '../../src/web/protocol.ts'
import { Sessions } from '../../src/web/session.ts'
import { PUBLIC_DIR } from '../../src/node.ts'
import { silentLogger } from '../../src/logger.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import type { DownloadService, OpenedFile } from '../../src/downloads/service.ts'

/** A downloads service that knows one file, whose bytes may not have reached this node yet. */
function fakeDownloads(owner: string, file: OpenedFile): DownloadService {
  return {
    current: () => null,
    request: () => Promise.reject(new Error('not in this test')),
    dismiss: async () => null,
    subscribe: () => {},
    unsubscribe: () => {},
    openFile: async (id, userId) =>
      userId !== owner ? null : id === file.id ? file : id === 'again' ? 'not-ready' : null,
  }
}

async function serve(downloads: DownloadService, more: Partial<WebServerOptions> = {}) {
  const sessions = more.sessions ?? new Sessions('a-test-secret')
  const { server, port } = await listen(0, '127.0.0.1')
  const web = createWebServer({
    server,
    downloads,
    sessions,
    publicDir: PUBLIC_DIR,
    log: silentLogger,
    health: () => ({}),
    cluster: () => ({}),
    ...more,
  })
  return { sessions, web, base: `http://127.0.0.1:${port}`, close: () => web.close() }
}

test('an upgrade that fails on a fault of the node is answered 500 and logged, and the node goes on', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  const log = recordingLogger()
  const s = await serve(
    fakeDownloads(userId, { id: 'x', filename: 'x', contentType: 'x', content: null }),
    {
      log,
      trustedOrigins: () => {
        throw new Error('the member list is broken')
      },
    },
  )
  const port = Number(new URL(s.base).port)
  try {
    const upgrade = [
      'Host: x',
      'Origin: http://elsewhere.test',
      `Cookie: sid=${s.sessions.sign(userId)}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ].join('\r\n')
    assert.is(
      await rawRequest(port, `GET /ws HTTP/1.1\r\n${upgrade}`),
      'HTTP/1.1 500 Internal Server Error',
    )
    assert.equal(
      log.events('upgrade-failed').map((e) => [e.fields.url, e.fields.error]),
      [['/ws', 'the member list is broken']],
    )
    const health = await fetch(`${s.base}/healthz`)
    assert.is(health.status, 200)
    await health.arrayBuffer()
  } finally {
    await s.close()
  }
})

test('a file not reachable from this node yet gets 503 with a retry hint, not a hang', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  const log = recordingLogger()
  const s = await serve(
    fakeDownloads(userId, {
      id: 'abc',
      filename: 'r.pdf',
      contentType: 'application/pdf',
      content: null,
    }),
    { log },
  )
  try {
    const cookie = `sid=${s.sessions.sign(userId)}`
    const res = await fetch(`${s.base}/downloads/abc`, { headers: { cookie } })
    assert.is(res.status, 503)
    assert.is(res.headers.get('retry-after'), '2')
    assert.match(await res.text(), /not available on this node yet/)
    assert.equal(
      log.events('file-unreachable').map((e) => [e.level, e.fields.id]),
      [['warn', 'abc']],
      'the operator is told',
    )
    const other = await fetch(`${s.base}/downloads/nope`, { headers: { cookie } })
    assert.is(other.status, 404)
    // Shown ready by a node that died before the others heard; another makes it again.
    const again = await fetch(`${s.base}/downloads/again`, { headers: { cookie } })
    assert.is(again.status, 503)
    assert.is(again.headers.get('retry-after'), '2')
    assert.match(await again.text(), /being made again/)
    assert.is(log.events('file-unreachable').length, 1, 'not a file this node cannot reach')
  } finally {
    await s.close()
  }
})

test("the file is served under the generator's name and content type", async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  const bytes = Buffer.from('id,amount\n1,10\n')
  const s = await serve(
    fakeDownloads(userId, {
      id: 'csv1',
      filename: 'invoices-März.csv',
      contentType: 'text/csv',
      content: { size: bytes.length, stream: () => Readable.from([bytes]) },
    }),
  )
  try {
    const res = await fetch(`${s.base}/downloads/csv1`, {
      headers: { cookie: `sid=${s.sessions.sign(userId)}` },
    })
    assert.is(res.status, 200)
    assert.is(res.headers.get('content-type'), 'text/csv')
    assert.is(res.headers.get('content-length'), String(bytes.length))
    assert.is(
      res.headers.get('content-disposition'),
      `attachment; filename="invoices-M_rz.csv"; filename*=UTF-8''invoices-M%C3%A4rz.csv`,
    )
    assert.is(await res.text(), bytes.toString())
    const stranger = new Sessions('a-test-secret').issue().userId
    const foreign = await fetch(`${s.base}/downloads/csv1`, {
      headers: { cookie: `sid=${s.sessions.sign(stranger)}` },
    })
    assert.is(foreign.status, 404, "another user's file")
  } finally {
    await s.close()
  }
})

test('a port bound while the node is still starting answers 503 with a retry hint, then the routes', async () => {
  const { server, port } = await listen(0, '127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  try {
    const early = await fetch(`${base}/healthz`)
    assert.is(early.status, 503)
    assert.is(early.headers.get('retry-after'), '1')
    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.once('open', () => reject(new Error('upgraded while starting')))
      ws.once('error', () => {})
    })
    assert.is(upgrade, 503)
    const web = createWebServer({
      server,
      downloads: fakeDownloads('nobody', {
        id: 'x',
        filename: 'x',
        contentType: 'text/plain',
        content: null,
      }),
      sessions: new Sessions('a-test-secret'),
      publicDir: PUBLIC_DIR,
      log: silentLogger,
      health: () => ({ ok: true }),
      cluster: () => ({}),
    })
    const ready = await fetch(`${base}/healthz`)
    assert.is(ready.status, 200)
    assert.equal(await ready.json(), { ok: true })
    await web.close()
  } finally {
    server.close()
  }
})

test('a request or WebSocket upgrade whose URL does not parse is refused with 400, and the node goes on', async () => {
  const log = recordingLogger()
  const s = await serve(
    fakeDownloads('nobody', { id: 'x', filename: 'x', contentType: 'x', content: null }),
    { log },
  )
  const port = Number(new URL(s.base).port)
  const upgrade =
    'Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
  try {
    // An upgrade's listener runs synchronously: a throw there ended the process.
    assert.is(
      await rawRequest(port, `GET http://a:b/ws HTTP/1.1\r\n${upgrade}`),
      'HTTP/1.1 400 Bad Request',
    )
    assert.is(
      await rawRequest(port, 'GET http://a:b/healthz HTTP/1.1\r\nHost: x'),
      'HTTP/1.1 400 Bad Request',
    )
    // A path that starts with two slashes is a path, not a host: no route has it.
    assert.is(
      await rawRequest(port, `GET //a:b/ws HTTP/1.1\r\n${upgrade}`),
      'HTTP/1.1 404 Not Found',
    )
    assert.is(await rawRequest(port, 'GET //a:b HTTP/1.1\r\nHost: x'), 'HTTP/1.1 404 Not Found')
    const health = await fetch(`${s.base}/healthz`)
    assert.is(health.status, 200)
    await health.arrayBuffer()
    assert.equal(
      log.entries.filter((e) => e.level === 'error'),
      [],
      'bad input is not a server error',
    )
  } finally {
    await s.close()
  }
})

test('a connection that sends nothing, or half a request, is closed with 408 after the headers timeout', async () => {
  const { server, port } = await listen(0, '127.0.0.1', { headersTimeoutMs: 300 })
  try {
    const started = Date.now()
    const outcomes = await Promise.all(
      ['', 'GET / HTTP/1.1\r\nHost: x\r\n'].map(
        (bytes) =>
          new Promise<{ ms: number; reply: string }>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
            let reply = ''
            socket.on('data', (d) => (reply += d))
            socket.on('close', () => resolve({ ms: Date.now() - started, reply }))
          }),
      ),
    )
    for (const { ms, reply } of outcomes) {
      assert.match(reply, /^HTTP\/1.1 408/)
      assert.ok(ms < 3000, `closed after ${ms} ms`)
    }
  } finally {
    server.close()
  }
})

test('an idle HTTP connection is closed after the idle timeout; an idle WebSocket is not', async () => {
  const { server, port } = await listen(0, '127.0.0.1', {
    idleTimeoutMs: 300,
    keepAliveTimeoutMs: 0,
  })
  const sessions = new Sessions('a-test-secret')
  const web = createWebServer({
    server,
    downloads: fakeDownloads('nobody', { id: 'x', filename: 'x', contentType: 'x', content: null }),
    sessions,
    publicDir: PUBLIC_DIR,
    log: silentLogger,
    health: () => ({}),
    cluster: () => ({}),
  })
  try {
    const started = Date.now()
    const httpClosed = new Promise<number>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
      )
      socket.on('data', () => {})
      socket.on('close', () => resolve(Date.now() - started))
    })
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      headers: { cookie: `sid=${sessions.sign(sessions.issue().userId)}` },
    })
    let wsClosed = false
    ws.on('close', () => (wsClosed = true))
    await new Promise((resolve) => ws.once('open', resolve))
    const ms = await httpClosed
    assert.ok(ms >= 250 && ms < 2000, `the HTTP connection closed after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 400))
    assert.not.ok(wsClosed, 'the WebSocket, idle for longer, is open')
    ws.close()
  } finally {
    await web.close()
  }
})

test('requests one after another on a kept-alive connection arm one idle timer, not one each', async () => {
  const { server, port } = await listen(0, '127.0.0.1', { idleTimeoutMs: 60_000 })
  const sockets: import('node:net').Socket[] = []
  server.on('connection', (socket) => sockets.push(socket))
  try {
    const replies = await new Promise<number>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let got = 0
      const ask = () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
      socket.on('data', (d) => {
        got += String(d).split('HTTP/1.1 ').length - 1
        if (got < 12) ask()
        else {
          socket.destroy()
          resolve(got)
        }
      })
      socket.once('connect', ask)
    })
    assert.is(replies, 12)
    assert.is(sockets.length, 1, 'one connection')
    assert.ok(
      sockets[0]!.listenerCount('timeout') <= 2,
      `${sockets[0]!.listenerCount('timeout')} listeners`,
    )
  } finally {
    server.close()
  }
})

type Message = { type: string; members?: unknown; message?: string }

/** A page's socket to the server `s` as `userId`, and every message it has received. */
async function openPage(s: Awaited<ReturnType<typeof serve>>, userId: string) {
  const ws = new WebSocket(s.base.replace('http', 'ws') + '/ws', {
    headers: { cookie: `sid=${s.sessions.sign(userId)}` },
  })
  const messages: Message[] = []
  ws.on('message', (data) => messages.push(JSON.parse(String(data))))
  await new Promise((resolve) => ws.once('open', resolve))
  return { ws, messages }
}

/** The first message of `type` among `messages`, once there is one (a second at most). */
async function waitFor(messages: Message[], type: string) {
  for (let i = 0; i < 200 && !messages.some((m) => m.type === type); i++)
    await new Promise((r) => setTimeout(r, 5))
  return messages.find((m) => m.type === type)
}

test('a node cut off from its cluster tells its pages on connect and when it happens, naming where else to go, and when it is over', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  const other = { id: 'n2-id', name: 'n2', url: 'http://127.0.0.1:4002', status: 'dead' }
  let cut: CutOff | null = null
  const s = await serve(
    fakeDownloads(userId, { id: 'x', filename: 'x', contentType: 'x', content: null }),
    {
      members: () => [],
      cutOff: () => cut,
    },
  )
  const open = () => openPage(s, userId)
  try {
    const before = await open()
    await waitFor(before.messages, 'download')
    assert.not.ok(
      before.messages.some((m) => m.type === 'cut-off'),
      'nothing to say yet',
    )

    cut = { message: 'This server is cut off; moving to another.', members: [other] }
    s.web.membersChanged()
    const told = (await waitFor(before.messages, 'cut-off')) as {
      members: unknown
      message: string
    }
    assert.equal(told.members, [other])
    assert.match(told.message, /cut off/)

    const after = await open()
    const types = async () => {
      await waitFor(after.messages, 'cut-off')
      return after.messages.map((m) => m.type)
    }
    assert.equal(
      await types(),
      ['members', 'ticket', 'download', 'cut-off'],
      'a page arriving is told too, after the download: one that leaves at once still shows it',
    )

    // The quorum is back: both pages hear the cut-off is over, once.
    cut = null
    s.web.membersChanged()
    await waitFor(before.messages, 'cut-off-ended')
    await waitFor(after.messages, 'cut-off-ended')
    s.web.membersChanged()
    await new Promise((r) => setTimeout(r, 50))
    for (const page of [before, after])
      assert.is(page.messages.filter((m) => m.type === 'cut-off-ended').length, 1)
    before.ws.close()
    after.ws.close()
  } finally {
    await s.close()
  }
})

test('a ping is answered with a pong at once, even while a request of the same socket is still being written', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  let requested = 0
  const downloads: DownloadService = {
    ...fakeDownloads(userId, { id: 'x', filename: 'x', contentType: 'x', content: null }),
    // A request whose write never ends (a log that stalls): the socket's queue waits on it.
    request: () => {
      requested++
      return new Promise(() => {})
    },
  }
  const s = await serve(downloads, { members: () => [] })
  try {
    const page = await openPage(s, userId)
    await waitFor(page.messages, 'download')
    page.ws.send(JSON.stringify({ type: 'request' }))
    page.ws.send(JSON.stringify({ type: 'ping' }))
    assert.equal(await waitFor(page.messages, 'pong'), { type: 'pong' })
    assert.is(requested, 1, 'the request is under way, unanswered')
    page.ws.close()
  } finally {
    await s.close()
  }
})

test('a page that arrived while its node was cut off hears when it is over, though no change was told while it was connected', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  let cut: CutOff | null = { message: 'This server is cut off.', members: [] }
  const s = await serve(
    fakeDownloads(userId, { id: 'x', filename: 'x', contentType: 'x', content: null }),
    { members: () => [], cutOff: () => cut },
  )
  try {
    const page = await openPage(s, userId)
    await waitFor(page.messages, 'cut-off')
    cut = null
    s.web.membersChanged()
    assert.ok(await waitFor(page.messages, 'cut-off-ended'))
    page.ws.close()
  } finally {
    await s.close()
  }
})

test('a page that moved to a node on another host is let in by the ticket its own node gave it', async () => {
  const userId = new Sessions('a-test-secret').issue().userId
  const bytes = Buffer.from('%PDF-1.4 a file')
  const file = {
    id: 'f1',
    filename: 'r.pdf',
    contentType: 'application/pdf',
    content: { size: bytes.length, stream: () => Readable.from([bytes]) },
  }
  const home = await serve(fakeDownloads(userId, file), { members: () => [] })
  const away = await serve(fakeDownloads(userId, file), { members: () => [] })
  const stranger = await serve(fakeDownloads(userId, file), {
    members: () => [],
    sessions: new Sessions('another-cluster'),
  })
  const socket = (url: string, headers: Record<string, string> = {}) =>
    new Promise<{ ws: WebSocket; first: { type: string; ticket?: string; expiresAt?: number }[] }>(
      (resolve, reject) => {
        const ws = new WebSocket(url, { headers })
        const first: { type: string }[] = []
        ws.on('message', (data) => first.push(JSON.parse(String(data))))
        ws.once('open', () => setTimeout(() => resolve({ ws, first }), 50))
        ws.once('unexpected-response', (_req, res) => reject(new Error(String(res.statusCode))))
      },
    )
  try {
    const own = await socket(home.base.replace('http', 'ws') + '/ws', {
      cookie: `sid=${home.sessions.sign(userId)}`,
    })
    const told = own.first.find((m) => m.type === 'ticket')!
    assert.ok(told.ticket && told.expiresAt! > Date.now(), 'its node gave it a ticket')
    own.ws.close()
    const ticket = encodeURIComponent(told.ticket!)

    const moved = await socket(`${away.base.replace('http', 'ws')}/ws?ticket=${ticket}`)
    assert.ok(
      moved.first.some((m) => m.type === 'download'),
      'no cookie there, and in',
    )
    assert.not.ok(
      moved.first.some((m) => m.type === 'ticket'),
      'a socket a ticket let in gets no new one: a leaked ticket cannot renew itself',
    )
    moved.ws.close()
    // A cookie that host set for another identity does not turn the page into someone else.
    const someoneElse = new Sessions('a-test-secret').issue().userId
    const withBoth = await socket(`${away.base.replace('http', 'ws')}/ws?ticket=${ticket}`, {
      cookie: `sid=${away.sessions.sign(someoneElse)}`,
    })
    assert.not.ok(
      withBoth.first.some((m) => m.type === 'ticket'),
      'the ticket decided',
    )
    withBoth.ws.close()
    const mine = await fetch(`${away.base}/downloads/f1?ticket=${ticket}`, {
      headers: { cookie: `sid=${away.sessions.sign(someoneElse)}` },
    })
    assert.is(mine.status, 200, 'the file is the ticket holder’s')
    await mine.arrayBuffer()
    const res = await fetch(`${away.base}/downloads/f1?ticket=${ticket}`)
    assert.is(res.status, 200, 'and its file')
    assert.is(await res.text(), bytes.toString())

    await rejects(
      () => socket(`${away.base.replace('http', 'ws')}/ws?ticket=${ticket.slice(0, -2)}xx`),
      /401/,
    )
    await rejects(() => socket(`${stranger.base.replace('http', 'ws')}/ws?ticket=${ticket}`), /401/)
    const expired = home.sessions.ticket(userId, Date.now() - 16 * 60_000).ticket
    await rejects(
      () => socket(`${away.base.replace('http', 'ws')}/ws?ticket=${encodeURIComponent(expired)}`),
      /401/,
    )
    assert.is((await fetch(`${stranger.base}/downloads/f1?ticket=${ticket}`)).status, 404)
  } finally {
    await Promise.all([home.close(), away.close(), stranger.close()])
  }
})

test.run()
