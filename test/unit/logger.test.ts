import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger } from '../../src/logger.ts'

test('text: one readable line with the node, the level when not info, and the fields', () => {
  const lines: string[] = []
  const log = createLogger('n1', { write: (l) => lines.push(l) })
  log.info('request', { id: 'abc', user: 'u 1' })
  log.warn('retry', { id: 'abc', inMs: 500 })
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} n1 date utc=\d{4}-\d\d-\d\d$/)
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d\.\d{3} n1 request id=abc user="u 1"$/)
  assert.match(lines[2]!, / n1 WARN retry id=abc inMs=500$/)
})

test('text: the date has a line of its own, before the first line and the first of each day', () => {
  const lines: string[] = []
  let now = Date.UTC(2026, 11, 5, 23, 59, 59, 500)
  const log = createLogger('n1', { write: (l) => lines.push(l), now: () => now })
  log.info('request', { id: 'a' })
  log.info('ready', { id: 'a' })
  now += 600
  log.info('request', { id: 'b' })
  assert.equal(lines, [
    '23:59:59.500 n1 date utc=2026-12-05',
    '23:59:59.500 n1 request id=a',
    '23:59:59.500 n1 ready id=a',
    '00:00:00.100 n1 date utc=2026-12-06',
    '00:00:00.100 n1 request id=b',
  ])
  // A second logger of the node, to the same place (main.ts and node.ts each have one).
  const write = (l: string) => lines.push(l)
  lines.length = 0
  createLogger('n1', { write, now: () => now }).info('starting')
  createLogger('n1', { write, now: () => now }).info('started')
  createLogger('n2', { write, now: () => now }).info('started')
  assert.equal(lines, [
    '00:00:00.100 n1 date utc=2026-12-06',
    '00:00:00.100 n1 starting',
    '00:00:00.100 n1 started',
    '00:00:00.100 n2 date utc=2026-12-06',
    '00:00:00.100 n2 started',
  ])
})

test('json: one object per line with time, node, level, event and the fields', () => {
  const lines: string[] = []
  const log = createLogger('n2', { format: 'json', write: (l) => lines.push(l) })
  log.info('ready', { id: 'abc', bytes: 1234, skipped: undefined })
  log.error('http-failed', { url: '/x', error: 'boom "quoted"' })
  assert.is(lines.length, 2)
  const ready = JSON.parse(lines[0]!)
  assert.is(ready.node, 'n2')
  assert.is(ready.level, 'info')
  assert.is(ready.event, 'ready')
  assert.is(ready.id, 'abc')
  assert.is(ready.bytes, 1234)
  assert.ok(!Number.isNaN(Date.parse(ready.time)), 'an ISO time')
  assert.not.ok('skipped' in ready)
  const failed = JSON.parse(lines[1]!)
  assert.is(failed.level, 'error')
  assert.is(failed.error, 'boom "quoted"')
})

test.run()
