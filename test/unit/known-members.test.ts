import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KnownMembers } from '../../src/cluster/known-members.ts'
import type { Member, Status } from '../../src/cluster/member.ts'
import { tempDir } from '../helpers/node.ts'

const m = (id: string, status: Status = 'alive'): Member => ({
  id,
  name: id.toUpperCase(),
  url: 'http://127.0.0.1:1',
  incarnation: 1,
  status,
})

test('members seen alive are known after a restart; one that left is forgotten, one that died is not', async () => {
  const dir = await tempDir()
  try {
    const first = await KnownMembers.load(dir.path, 'a')
    assert.equal([...first.before], ['a'], 'a new node knows only itself')
    first.update([m('a'), m('b'), m('c'), m('d')])
    first.update([m('a'), m('b', 'dead'), m('c', 'left'), m('d', 'suspect')])
    await first.flush()
    const again = await KnownMembers.load(dir.path, 'a')
    assert.equal([...again.before].sort(), ['a', 'b', 'd'])
    assert.equal(first.namesBefore(), [], 'new: it knew nobody before')
    assert.equal(again.namesBefore().sort(), ['B', 'D'], 'by name, itself left out')
    // The others: the quorum counts this node itself, once.
    assert.equal(first.ids().sort(), ['b', 'd'])
    assert.equal(again.ids().sort(), ['b', 'd'])
    again.forget('b')
    await again.flush()
    assert.equal([...(await KnownMembers.load(dir.path, 'a')).before].sort(), ['a', 'd'])
  } finally {
    await dir.remove()
  }
})

test('a save that failed is made at the next flush, not dropped', async () => {
  const dir = await tempDir()
  try {
    const known = await KnownMembers.load(dir.path, 'a')
    known.update([m('a'), m('b'), m('c')])
    await known.flush()
    // The file cannot be written for a moment (a directory where its temporary copy goes).
    await mkdir(join(dir.path, 'members.json.tmp'))
    known.forget('b')
    await known.flush()
    assert.equal([...(await KnownMembers.load(dir.path, 'a')).before].sort(), ['a', 'b', 'c'])
    await rm(join(dir.path, 'members.json.tmp'), { recursive: true })
    await known.flush()
    assert.equal([...(await KnownMembers.load(dir.path, 'a')).before].sort(), ['a', 'c'])
  } finally {
    await dir.remove()
  }
})

test('an unreadable file is a node that knew nobody, not a crash', async () => {
  const dir = await tempDir()
  try {
    await writeFile(join(dir.path, 'members.json'), '{ half a file')
    const known = await KnownMembers.load(dir.path, 'a')
    assert.equal([...known.before], ['a'])
  } finally {
    await dir.remove()
  }
})

test.run()
