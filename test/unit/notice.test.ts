/**
 * The page's notice (public/notice.js), in Node with a stand-in for its three elements and the
 * timers: a notice goes away by itself, a lasting one not until what it says is over.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'

interface FakeElement {
  hidden: boolean
  dataset: Record<string, string>
  textContent: string
  addEventListener: () => void
}
const element = (): FakeElement => ({
  hidden: true,
  dataset: {},
  textContent: '',
  addEventListener: () => {},
})

/** The notice over stand-ins, with its timers run by hand: `elapse` fires what is due. */
async function notice() {
  const timers = new Map<number, { at: number; run: () => void }>()
  let now = 0
  let next = 1
  const g = globalThis as Record<string, unknown>
  const saved = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout, document: g.document }
  g.document = { addEventListener: () => {} }
  g.setTimeout = (run: () => void, ms: number) => (timers.set(next, { at: now + ms, run }), next++)
  g.clearTimeout = (id: number) => void timers.delete(id)
  const { createNotice } = await import('../../public/notice.js')
  const box = element()
  const n = createNotice(box, element(), element())
  const restore = () => Object.assign(g, saved)
  const elapse = (ms: number) => {
    now += ms
    for (const [id, t] of [...timers]) if (t.at <= now) (timers.delete(id), t.run())
  }
  return { n, box, elapse, restore }
}

test('a notice goes away by itself; a lasting one stays until it is said to be over, then goes', async () => {
  const { n, box, elapse, restore } = await notice()
  try {
    n.show('The server did not answer. Please try again.')
    assert.is(box.hidden, false)
    elapse(8000)
    assert.is(box.hidden, true, 'gone after 8 s')

    n.show('This server is cut off from most of its cluster.', 'warning', { lasting: true })
    elapse(60_000)
    assert.is(box.hidden, false, 'still up a minute on: the cut-off lasts')
    n.ended()
    elapse(7999)
    assert.is(box.hidden, false)
    elapse(1)
    assert.is(box.hidden, true, 'goes 8 s after it is over')

    // Replaced by a notice that does not last, it goes as that one does.
    n.show('cut off', 'warning', { lasting: true })
    n.show('Please try again.')
    elapse(8000)
    assert.is(box.hidden, true)
    // Hidden (the cut-off ended), a lasting state does not carry to the next notice.
    n.show('cut off', 'warning', { lasting: true })
    n.hide()
    n.show('Please try again.')
    elapse(8000)
    assert.is(box.hidden, true)
    n.ended() // nothing lasting: changes nothing
    assert.is(box.hidden, true)
  } finally {
    restore()
  }
})

test.run()
