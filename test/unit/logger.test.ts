import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger } from '../../src/logger.ts'

test('text: one readable line with the node, the level when not info, and the fields', () => {
  const lines: string[] = []
  const log = createLogger('n1', { write: (l) => lines.push(l) })
  log.info('request', { id: 'abc', user: 'u 1' })
  log.warn('retry', { id: 'abc', inMs: 500 })
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} n1 request id=abc user="u 1"$/)
  assert.match(lines[1]!, / n1 WARN retry id=abc inMs=500$/)
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
