import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { admissionKey, proof, verifyProof } from '../../src/cluster/admission.ts'
import { better } from '../../src/cluster/log-election.ts'
import { parseAdvert, type LogAdvert } from '../../src/store/log-advert.ts'

const hash = randomBytes(32)
const key = admissionKey('the-cluster-secret')

test('a proof made with the secret for this handshake is accepted by the other side', () => {
  assert.ok(verifyProof(key, hash, false, proof(key, hash, true)))
  assert.ok(verifyProof(key, hash, true, proof(key, hash, false)))
})

test('a proof under another secret, for another handshake, echoed back, or malformed is refused', () => {
  assert.not.ok(verifyProof(key, hash, false, proof(admissionKey('another-secret'), hash, true)))
  assert.not.ok(verifyProof(key, hash, false, proof(key, randomBytes(32), true)))
  assert.not.ok(verifyProof(key, hash, true, proof(key, hash, true)), 'our own proof echoed back')
  assert.not.ok(verifyProof(key, hash, false, Buffer.alloc(32)))
  assert.not.ok(verifyProof(key, hash, false, Buffer.alloc(3)))
  assert.not.ok(verifyProof(key, hash, false, 'not a buffer'))
  assert.not.ok(verifyProof(key, hash, false, null))
})

const advert = (key: string, writers: number, length: number, generation = 0): LogAdvert => ({
  key: key.repeat(64),
  writers,
  length,
  writer: 'f'.repeat(64),
  writable: true,
  generation,
})

test('log election: more writers, then longer, then smaller key; one winner in every order', () => {
  assert.ok(
    better(advert('a', 3, 0), advert('0', 1, 100)),
    'an existing cluster beats a newcomer with data',
  )
  assert.ok(better(advert('b', 1, 5), advert('a', 1, 0)), 'data beats an empty log')
  assert.ok(better(advert('a', 1, 0), advert('b', 1, 0)))
  assert.not.ok(better(advert('a', 1, 0), advert('a', 1, 0)))
  const all = [advert('c', 1, 0), advert('a', 1, 0), advert('b', 1, 0), advert('d', 2, 0)]
  for (const start of all) {
    let mine = start
    for (const theirs of all) if (better(theirs, mine)) mine = theirs
    assert.is(mine.key, 'd'.repeat(64))
  }
})

test('log election: a later generation beats any earlier one, and its order stays total', () => {
  assert.ok(
    better(advert('f', 1, 3, 1), advert('a', 5, 900, 0)),
    'a compacted log beats the long log it replaced, with fewer writers',
  )
  assert.not.ok(better(advert('a', 9, 900, 1), advert('f', 1, 3, 2)))
  // Two compactions started at once: two logs of one generation, one winner in every order.
  const all = [advert('c', 1, 4, 1), advert('a', 3, 90, 0), advert('b', 1, 4, 1)]
  for (const start of all) {
    let mine = start
    for (const theirs of all) if (better(theirs, mine)) mine = theirs
    assert.is(mine.key, 'b'.repeat(64))
  }
})

test('adverts from the wire are validated', () => {
  assert.ok(parseAdvert(advert('a', 1, 0)))
  const { generation: _, ...older } = advert('a', 1, 0, 4)
  assert.is(parseAdvert(older)?.generation, 0, 'an older peer sends no generation: 0')
  assert.is(parseAdvert(advert('a', 1, 0, 4))?.generation, 4)
  assert.is(parseAdvert({ ...advert('a', 1, 0), generation: -1 }), null)
  assert.is(parseAdvert({ ...advert('a', 1, 0), generation: 1.5 }), null)
  assert.is(parseAdvert({ ...advert('a', 1, 0), key: 'zz' }), null)
  assert.is(parseAdvert({ ...advert('a', 1, 0), writers: '3' }), null)
  assert.is(parseAdvert(null), null)
})

test.run()
