import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { limitRepeats } from '../../src/log-repeats.ts'
import type { Fields, Logger } from '../../src/logger.ts'
import { fakeClock } from '../helpers/clock.ts'

/** The lines as text, without `lastAt` (in `lastAts`, in order). */
function recorder() {
  const lines: string[] = []
  const lastAts: string[] = []
  const at =
    (level: string) =>
    (event: string, { lastAt, ...fields }: Fields = {}) => {
      if (lastAt !== undefined) lastAts.push(String(lastAt))
      lines.push([level, event, ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)].join(' '))
    }
  const log: Logger = { info: at('info'), warn: at('warn'), error: at('error') }
  return { log, lines, lastAts }
}

/** How many lines `lines` stand for: one each, or N for a line with repeats=N. */
const represented = (lines: string[]) =>
  lines.reduce((n, l) => n + Number(/repeats=(\d+)$/.exec(l)?.[1] ?? 1), 0)

test('a warning repeated ten times a second: its first five written, then a few a minute with how many were held back', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  const flood = clock.setInterval(
    () => limited.warn('bad-message', { peer: 'abc', error: `field ${clock.now() % 7}` }),
    100,
  )
  await clock.tick(150_000)
  clock.clearInterval(flood)
  // Five as they come, then each minute the count of what was held and four more.
  assert.is(lines.length, 15)
  for (const l of lines.slice(0, 5)) assert.match(l, /^warn bad-message peer=abc error=field \d$/)
  assert.match(lines[5]!, /repeats=\d+$/)
  // The flood stopped: what the last window held comes out within a minute, then nothing.
  await clock.tick(120_000)
  assert.is(lines.length, 16)
  assert.match(lines[15]!, /repeats=\d+$/)
  assert.is(represented(lines), 1500, 'every line is counted')
  limited.close()
})

test('what happens a few times a minute is written as it comes, in order; each subject on its own', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  // A state that changes and changes back (the way back an info line, never held).
  for (let i = 0; i < 3; i++) {
    limited.error('quorum-lost', { message: 'cut off' })
    limited.info('quorum-regained', {})
  }
  assert.equal(lines, [
    'error quorum-lost message=cut off',
    'info quorum-regained',
    'error quorum-lost message=cut off',
    'info quorum-regained',
    'error quorum-lost message=cut off',
    'info quorum-regained',
  ])
  lines.length = 0
  // Two downloads' lines are two subjects, and a level is a subject of its own.
  for (let i = 0; i < 7; i++) {
    limited.error('supervise-failed', { user: 'u1', error: `x${i}` })
    limited.error('supervise-failed', { user: 'u2', error: `x${i}` })
  }
  limited.warn('supervise-failed', { user: 'u1', error: 'x' })
  assert.is(lines.length, 11)
  assert.is(lines.at(-1), 'warn supervise-failed user=u1 error=x')
  await clock.tick(61_000)
  assert.equal(lines.slice(11), [
    'error supervise-failed user=u1 error=x6 repeats=2',
    'error supervise-failed user=u2 error=x6 repeats=2',
  ])
  // A quiet subject is forgotten: after its window, its next line is written at once.
  await clock.tick(61_000)
  limited.error('supervise-failed', { user: 'u1', error: 'y' })
  assert.is(lines.at(-1), 'error supervise-failed user=u1 error=y')
  limited.close()
})

test('a line with repeats=N stands for N lines, itself the last, however the window ended', async () => {
  const clock = fakeClock()
  const { log, lines, lastAts } = recorder()
  const limited = limitRepeats(log, { clock, burst: 1 })
  limited.warn('a', {}) // starts the sweep's timer: every 15 s from here
  await clock.tick(5000)
  limited.warn('b', { n: 1 }) // b's window: until 65 s
  await clock.tick(5000)
  limited.warn('b', { n: 2 }) // held
  await clock.tick(60_000) // 70 s: b's window is over, and no sweep has run since
  limited.warn('b', { n: 3 })
  assert.equal(lines, ['warn a', 'warn b n=1', 'warn b n=2 repeats=1', 'warn b n=3'])
  // Written a minute later, the line says when the last it stands for came.
  assert.equal(lastAts, [new Date(1_700_000_010_000).toISOString()])
  limited.close()
})

test('close writes what is held back and stops the timer; lines after it pass', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  for (let i = 0; i < 8; i++) limited.warn('stalled', { ms: i })
  limited.close()
  assert.equal(lines.slice(4), ['warn stalled ms=4', 'warn stalled ms=7 repeats=3'])
  await clock.tick(120_000)
  assert.is(lines.length, 6)
  // After close a line is written as it comes, and starts no timer that would keep the
  // process alive.
  limited.warn('stalled', { ms: 8 })
  limited.warn('stalled', { ms: 9 })
  assert.equal(lines.slice(6), ['warn stalled ms=8', 'warn stalled ms=9'])
})

test('past its limit of subjects, lines are told apart by event only: memory stays bounded', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  for (let i = 0; i < 20_000; i++) limited.warn('bad-message', { peer: `p${i}` })
  // 10,000 subjects, then the rest together: five of them, then held.
  assert.is(lines.length, 10_005)
  limited.close()
  assert.match(lines.at(-1)!, /^warn bad-message peer=p19999 repeats=9995$/)
  assert.is(represented(lines), 20_000)
})

test.run()
