/**
 * The page's socket (public/connection.js) in Node, with a fake WebSocket and a fake clock in
 * place of the browser's: what it does over time on a cut-off node, which the pure policy's
 * tests (page-reconnect.test.ts) cannot show.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import FakeTimers from '@sinonjs/fake-timers'

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
  send(): void {}
  close(): void {
    this.closedByPage = true
    this.fail()
  }
}

const OWN = 'ws://own:4000/ws'
const B = 'ws://b:4002/ws'
const CUT_OFF = { type: 'cut-off', message: 'Cut off.', members: [{ url: 'http://b:4002' }] }

test('on a cut-off node whose named members did not answer, the page looks again 30 s after it first stayed, however often the node repeats that it is cut off', async () => {
  const g = globalThis as Record<string, unknown>
  const saved = Object.fromEntries(['location', 'WebSocket', 'fetch'].map((k) => [k, g[k]]))
  Object.assign(g, {
    location: { protocol: 'http:', host: 'own:4000' },
    WebSocket: FakeSocket,
    fetch: async () => new Response(null),
  })
  // The page's timers and Date.now on a clock the test moves.
  const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  FakeSocket.all = []
  try {
    const { createConnection } = await import('../../public/connection.js')
    const moving: boolean[] = []
    const connection = createConnection({
      onStatus: () => {},
      onDrop: () => {},
      onMessage: (m: Record<string, unknown>) => {
        if (m.type === 'cut-off') moving.push(m.moving as boolean)
      },
    })
    connection.connect()
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
    latest().open()
    latest().receive({
      type: 'members',
      members: [{ url: 'http://own:4000' }, { url: 'http://b:4002' }],
    })

    // Cut off: it moves to b, which does not answer, and back to its own node, cut off still.
    latest().receive(CUT_OFF)
    assert.equal(moving, [true])
    assert.is(nextSocket().url, B)
    latest().fail()
    const own = nextSocket()
    assert.is(own.url, OWN)
    own.open()
    own.receive(CUT_OFF)
    assert.equal(moving, [true, false], 'it stays: b did not answer')

    // The node says it again at each change of its members; the look again stays where it was.
    for (let i = 0; i < 5; i++) {
      clock.tick(5000)
      own.receive(CUT_OFF)
    }
    assert.not.ok(own.closedByPage, 'still there at 25 s')
    clock.tick(5000)
    assert.ok(own.closedByPage, 'at 30 s it leaves to try b again')
    assert.equal(moving.at(-1), true)
    assert.is(nextSocket().url, B)
  } finally {
    clock.uninstall()
    Object.assign(g, saved)
  }
})

test.run()
