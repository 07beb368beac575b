import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SetMap } from '../../src/set-map.ts'

test('values are kept per key, and a key whose set empties is gone', () => {
  const m = new SetMap<string, number>()
  m.add('a', 1)
  m.add('a', 2)
  m.add('a', 2)
  m.add('b', 3)
  assert.equal([...m.get('a')], [1, 2])
  assert.equal([...m.get('b')], [3])
  assert.is(m.size, 2)
  m.delete('a', 1)
  m.delete('a', 9) // not there: nothing changes
  assert.equal([...m.get('a')], [2])
  m.delete('a', 2)
  assert.is(m.size, 1, 'an emptied key leaves')
  assert.is(m.get('a').size, 0)
  m.delete('zz', 1) // an unknown key is no error
  assert.is(m.size, 1)
})

test('a value deleted under another key stays where it is', () => {
  const m = new SetMap<string, number>()
  m.add('a', 1)
  m.delete('b', 1)
  assert.equal([...m.get('a')], [1])
})

test.run()
