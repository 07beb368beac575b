/**
 * The page's file link (public/file-link.js), run in Node with the check's fetch and waits
 * injected: a check that gets no answer is asked again before the user is told to try again.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createFileLink } from '../../public/file-link.js'

type Options = Parameters<typeof createFileLink>[0]

const ready = { id: 'd1', state: 'ready', fileUrl: '/files/d1', progress: 100 }

/** A file link whose checks answer, in turn, with `answers` (an Error: no answer). */
function fileLink(answers: (number | Error)[]) {
  const told: string[] = []
  const waits: number[] = []
  const asked: string[] = []
  let clicks = 0
  const link = createFileLink({
    link: { click: () => clicks++ } as unknown as Options['link'],
    current: () => ready as never,
    href: (d) => `http://n${asked.length + 1}${d.fileUrl}`,
    dismissing: () => false,
    notify: (text: string) => told.push(text),
    render: () => {},
    downloaded: () => {},
    gone: () => {},
    fetch: async (url: string | URL | Request) => {
      asked.push(String(url))
      const answer = answers.shift()
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error('no answer')
      return new Response(null, { status: answer, headers: { 'retry-after': '1' } })
    },
    sleep: async (ms: number) => void waits.push(ms),
  })
  const click = () =>
    link.onClick({ preventDefault: () => {} } as unknown as Parameters<typeof link.onClick>[0])
  return { click, told, waits, asked, clicks: () => clicks }
}

test('a check that gets no answer is asked again, where the page is by then, and the file is fetched', async () => {
  const f = fileLink([new TypeError('Failed to fetch'), new TypeError('Failed to fetch'), 200])
  await f.click()
  assert.equal(f.waits, [1000, 2000])
  assert.equal(f.asked, ['http://n1/files/d1', 'http://n2/files/d1', 'http://n3/files/d1'])
  assert.is(f.clicks(), 1, 'let through to the browser')
  assert.equal(f.told, [])
})

test('three checks without an answer: the user is told to try again', async () => {
  const f = fileLink([new Error('x'), new Error('x'), new Error('x'), 200])
  await f.click()
  assert.is(f.asked.length, 3)
  assert.is(f.clicks(), 0)
  assert.equal(f.told, [
    'Couldn’t reach the server to fetch your file. Check your connection and try again.',
  ])
})

test('a node without the file yet is asked again as it says; a missing file is told at once', async () => {
  const f = fileLink([503, new Error('x'), 503, 200])
  await f.click()
  assert.equal(f.waits, [1000, 1000, 1000])
  assert.is(f.clicks(), 1)
  const gone = fileLink([404])
  await gone.click()
  assert.is(gone.asked.length, 1)
  assert.match(gone.told[0]!, /no longer available/)
})

test.run()
