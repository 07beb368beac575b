/**
 * The page's socket (public/connection.js) in Node, with a fake WebSocket and a fake clock in
 * place of the browser's: what it does over time on a cut-off node, which the pure policy's
 * tests (page-reconnect.test.ts) cannot show.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import FakeTimers from '@sinonjs/fake-timers'
import * as liveness from '../../public/liveness.js'

/** A socket the test opens, fails and speaks through. */
class FakeSocket {
  static readonly OPEN = 1
  static all: FakeSocket[] = []
  readyState = 0
  closedByPage = false
  private readonly listeners = new Map<string, ((e: unknown) => void)[]>()
  constructor(readonly url: string) {
    FakeSocket.all.push(this)
  }
  addEventListener(type: string, f: (e: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), f])
  }
  private emit(type: string, e: unknown = {}): void {
    for (const f of this.listeners.get(type) ?? []) f(e)
  }
  open(): void {
    this.readyState = 1
    this.emit('open')
  }
  receive(message: unknown): void {
    this.emit('message', { data: JSON.stringify(message) })
  }
  /** The server is not there: closed without ever opening. */
  fail(): void {
    this.readyState = 3
    this.emit('close')
  }
  /** What the page sent on it, parsed. */
  sent: unknown[] = []
  send(text: string): void {
    this.sent.push(JSON.parse(text))
  }
  close(): void {
    this.closedByPage = true
    this.fail()
  }
}

const OWN = 'ws://own:4000/ws'
const B = 'ws://b:4002/ws'
const CUT_OFF = { type: 'cut-off', message: 'Cut off.', members: [{ url: 'http://b:4002' }] }

/** The page's connection in Node: the browser's globals faked, its timers on a clock the test moves. */
async function withPage(
  body: (t: {
    clock: ReturnType<typeof FakeTimers.install>
    connection: ReturnType<typeof import('../../public/connection.js').createConnection>
    messages: Record<string, unknown>[]
    statuses: string[]
    latest: () => FakeSocket
    nextSocket: () => FakeSocket
  }) => void | Promise<void>,
  /** The page's `fetch`: answered at once unless a test says otherwise. */
  pageFetch: typeof fetch = async () => new Response(null),
): Promise<void> {
  const g = globalThis as Record<string, unknown>
  const saved = Object.fromEntries(['location', 'WebSocket', 'fetch'].map((k) => [k, g[k]]))
  Object.assign(g, {
    location: { protocol: 'http:', host: 'own:4000' },
    WebSocket: FakeSocket,
    fetch: pageFetch,
  })
  const clock = FakeTimers.install({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  })
  FakeSocket.all = []
  try {
    const { createConnection } = await import('../../public/connection.js')
    const messages: Record<string, unknown>[] = []
    const statuses: string[] = []
    const connection = createConnection({
      onStatus: (status: string) => statuses.push(status),
      onDrop: () => {},
      onMessage: (m: Record<string, unknown>) => messages.push(m),
    })
    const latest = () => FakeSocket.all.at(-1)!
    /** Moves the clock until the page opens a socket (its backoff is random). */
    const nextSocket = () => {
      const before = FakeSocket.all.length
      for (let waited = 0; FakeSocket.all.length === before; waited += 100) {
        assert.ok(waited < 60_000, 'the page tries again')
        clock.tick(100)
      }
      return latest()
    }
    connection.connect()
    await body({ clock, connection, messages, statuses, latest, nextSocket })
  } finally {
    clock.uninstall()
    Object.assign(g, saved)
  }
}

const MEMBERS = {
  type: 'members',
  members: [{ url: 'http://own:4000' }, { url: 'http://b:4002' }],
}

test('on a cut-off node whose named members did not answer, the page looks again 30 s after it first stayed, however often the node repeats that it is cut off', async () => {
  await withPage(({ clock, messages, latest, nextSocket }) => {
    const moving = () =>
      messages.filter((m) => m.type === 'cut-off').map((m) => m.moving as boolean)
    latest().open()
    latest().receive(MEMBERS)

    // Cut off: it moves to b, which does not answer, and back to its own node, cut off still.
    latest().receive(CUT_OFF)
    assert.equal(moving(), [true])
    assert.is(nextSocket().url, B)
    latest().fail()
    const own = nextSocket()
    assert.is(own.url, OWN)
    own.open()
    own.receive(CUT_OFF)
    assert.equal(moving(), [true, false], 'it stays: b did not answer')

    // The node says it again at each change of its members; the look again stays where it was.
    for (let i = 0; i < 5; i++) {
      clock.tick(5000)
      own.receive(CUT_OFF)
    }
    assert.not.ok(own.closedByPage, 'still there at 25 s')
    clock.tick(5000)
    assert.ok(own.closedByPage, 'at 30 s it leaves to try b again')
    assert.equal(moving().at(-1), true)
    assert.is(nextSocket().url, B)
  })
})

test('a page whose node falls silent (paused, hung) asks after 4 s of quiet and, unanswered 4 s on, leaves for another member', async () => {
  await withPage(({ clock, statuses, latest, nextSocket }) => {
    const own = latest()
    own.open()
    own.receive(MEMBERS)
    clock.tick(3900)
    assert.equal(own.sent, [], 'nothing asked while it was heard lately')
    clock.tick(200)
    assert.equal(own.sent, [{ type: 'ping' }])
    own.receive({ type: 'pong' })
    // Answered: it stays, and asks again after each quiet, 20 s long.
    let silentFrom = Date.now()
    for (let answered = 1, t = 0; t < 20_000; t += 100) {
      clock.tick(100)
      for (; answered < own.sent.length; answered++) {
        own.receive({ type: 'pong' })
        silentFrom = Date.now()
      }
    }
    assert.not.ok(own.closedByPage, 'a node that answers is kept')
    assert.ok(own.sent.length >= 4, 'asked again at each quiet')

    // Silent from its last pong on: left within 4 s of quiet, a look and 4 s unanswered.
    while (!own.closedByPage) {
      assert.ok(Date.now() - silentFrom <= 9000, 'left within 9 s of its last word')
      clock.tick(100)
    }
    assert.ok(Date.now() - silentFrom >= 8000, 'not before a ping went unanswered 4 s')
    assert.is(statuses.at(-1), 'reconnecting')
    assert.is(nextSocket().url, B, 'another member, not the silent one')
  })
})

test('a look that comes late (a throttled background tab) finds the answer that came meanwhile and stays', async () => {
  await withPage(({ clock, latest }) => {
    const own = latest()
    own.open()
    clock.tick(4000)
    assert.equal(own.sent, [{ type: 'ping' }])
    // The answer comes at once; the page's next look runs a minute late (its timers held back,
    // as a background tab's are), long after the answer's 4 s.
    own.receive({ type: 'pong' })
    clock.setSystemTime(Date.now() + 60_000)
    clock.tick(1000)
    assert.not.ok(own.closedByPage, 'it stays: its node answered')
    assert.equal(own.sent, [{ type: 'ping' }, { type: 'ping' }], 'and asks again')
    // The pure rule, the same: an answer heard after the ping counts however late the look.
    const { nextStep, pinged, heard, opened, started } = liveness
    assert.is(nextStep(heard(pinged(opened(started(0), 0), 4000), 4001), 60_000), 'ping')
    assert.is(nextStep(pinged(opened(started(0), 0), 4000), 60_000), 'leave', 'unanswered')
  })
})

test('the session refresh after three failures does not hold the page up when its node accepts and never answers', async () => {
  let refreshes = 0
  // Like a paused node: the request is taken and never answered, until it is given up.
  const silent = (_url: unknown, init?: RequestInit) =>
    new Promise<Response>((_, reject) => {
      refreshes++
      init?.signal?.addEventListener('abort', () => reject(new Error('aborted')))
    })
  await withPage(
    async ({ clock, latest }) => {
      latest().fail()
      /** Moves the clock, promises settling between steps, until the page opens a socket. */
      const nextSocket = async (limitMs: number) => {
        const before = FakeSocket.all.length
        for (let waited = 0; FakeSocket.all.length === before; waited += 100) {
          assert.ok(waited < limitMs, `the page tries again within ${limitMs} ms`)
          await clock.tickAsync(100)
        }
        return latest()
      }
      for (let i = 0; i < 2; i++) (await nextSocket(10_000)).fail()
      // The third failure in a row: the page asks for a fresh cookie, which never comes, then
      // tries again 3 s later rather than wait on it.
      const next = await nextSocket(10_000)
      assert.is(refreshes, 1, 'it asked for a fresh cookie')
      next.open()
    },
    silent as typeof fetch,
  )
})

test('a socket that does not open in 10 s (a paused node still accepts the connection) is given up for another member', async () => {
  await withPage(({ clock, latest, nextSocket }) => {
    latest().open()
    latest().receive(MEMBERS)
    latest().fail()
    // Wherever it goes next never answers the upgrade.
    const hanging = nextSocket()
    clock.tick(9900)
    assert.not.ok(hanging.closedByPage, 'waited while it may still open')
    clock.tick(200)
    assert.ok(hanging.closedByPage, 'given up at 10 s')
    assert.not.equal(nextSocket().url, hanging.url, 'the next attempt goes elsewhere')
  })
})

test.run()
