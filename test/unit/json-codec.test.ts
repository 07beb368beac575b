import { test } from 'uvu'
import * as assert from 'uvu/assert'
import c from 'compact-encoding'
import { json } from '../../src/cluster/json-codec.ts'

/** Encodes `v` as protomux does: size it, then write it. */
function encode(enc: typeof json, v: unknown): Buffer {
  const state = { start: 0, end: 0, buffer: null as Buffer | null }
  enc.preencode(state, v)
  state.buffer = Buffer.alloc(state.end)
  enc.encode(state, v)
  return state.buffer
}

test('the same bytes as compact-encoding’s json, which older code on the other end decodes', () => {
  const values = [{ type: 'records', ops: [{ id: 'ä', n: 1.5 }] }, [1, 'two'], 'text', 7, null, {}]
  for (const v of values) {
    const ours = encode(json, v)
    assert.equal(ours, encode(c.json as typeof json, v))
    assert.equal(json.decode({ start: 0, end: ours.length, buffer: ours }), v)
    assert.equal(c.json.decode({ start: 0, end: ours.length, buffer: ours }), v)
  }
})

test('a message sent to every link in one turn is stringified once', async () => {
  let made = 0
  const m = { type: 'records', toJSON: () => (made++, { type: 'records' }) }
  for (let link = 0; link < 3; link++) encode(json, m)
  assert.is(made, 1)
  // Once the turn is over the text is forgotten: an object changed since is encoded afresh.
  await Promise.resolve()
  const changed = { type: 'a' }
  encode(json, changed)
  changed.type = 'b'
  await Promise.resolve()
  const bytes = encode(json, changed)
  assert.equal(json.decode({ start: 0, end: bytes.length, buffer: bytes }), { type: 'b' })
  encode(json, m)
  assert.is(made, 2)
})

test.run()
