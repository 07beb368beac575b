import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseArgs } from '../../scripts/soak-args.ts'

test('no node is killed unless --kill-every is given; a killed node is down 15 s by default', () => {
  const plain = parseArgs(['--minutes', '20'])
  assert.is(plain.killEverySeconds, null)
  const chaos = parseArgs(['--kill-every', '90'])
  assert.is(chaos.killEverySeconds, 90)
  assert.is(chaos.downSeconds, 15)
  assert.is(parseArgs(['--kill-every', '60', '--down', '5']).downSeconds, 5)
})

test('a kill before the last killed node is back is refused, naming both flags', () => {
  assert.throws(
    () => parseArgs(['--kill-every', '10', '--down', '10']),
    (err: Error) => /--kill-every \(10 s\) must be longer than --down \(10 s\)/.test(err.message),
  )
  assert.throws(() => parseArgs(['--kill-every', '0']), /needs a number above 0/)
})

test.run()
