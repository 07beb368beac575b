/**
 * A member whose disk is below its reserve pauses its workers and refuses requests made to it;
 * its peers must not hand it new downloads either, which would wait there, pending, with
 * nothing said anywhere (an operator's trial). It says so in its heartbeats, and the others
 * place new downloads on the next member of each user's ranking until it has room again.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { rank } from '../../src/cluster/rendezvous.ts'
import type { RunningNode } from '../../src/node.ts'

const MB = 1024 * 1024

test('new downloads go past a member whose disk is low, and to it again once it has room', async () => {
  const disk = { free: 1 * MB }
  // n3's disk is under its reserve (64 MB by default) from the start.
  const c = await createCluster(3, { workMs: 300 }, (i) =>
    i === 2 ? { freeBytes: async () => disk.free } : {},
  )
  try {
    await c.oneLog()
    const [n1, , n3] = c.nodes as RunningNode[]
    const ids = c.nodes.map((n) => n.id)
    // Users whose ranking puts n3 first: without the beat's word they would all be its.
    const users: string[] = []
    for (let i = 0; users.length < 4; i++)
      if (rank(`user-${i}`, ids)[0] === n3!.id) users.push(`user-${i}`)
    for (const user of users) {
      const d = await n1!.manager.request(user)
      assert.is.not(d.owner, n3!.id, `${user}'s download placed on the member with a low disk`)
      assert.is(d.owner, rank(user, ids)[1], 'the next of its ranking')
    }
    for (const user of users) await n1!.manager.dismiss(user)

    // Room again: n3 says so in its next beats and takes its users' downloads.
    disk.free = 10_000 * MB
    const user = users[0]!
    await eventually(() => n1!.cluster.takesWork(n3!.id), 'n3 says it takes work again', 10_000)
    assert.is((await n1!.manager.request(user)).owner, n3!.id)
  } finally {
    await c.teardown()
  }
})

test('a download whose owner leaves is taken over past a successor whose disk is low', async () => {
  const disk = { free: 1 * MB }
  const c = await createCluster(3, { workMs: 8000 }, (i) =>
    i === 2 ? { freeBytes: async () => disk.free } : {},
  )
  try {
    await c.oneLog()
    const [n1, n2, n3] = c.nodes as RunningNode[]
    const ids = c.nodes.map((n) => n.id)
    await eventually(() => !n1!.cluster.takesWork(n3!.id), 'n1 hears n3 is low', 10_000)
    await eventually(() => !n2!.cluster.takesWork(n3!.id), 'n2 hears n3 is low', 10_000)
    // A user whose ranking is n1, n3, n2: n3 would take it over, but its workers are paused.
    let user = ''
    for (let i = 0; !user; i++) {
      const order = rank(`user-${i}`, ids)
      if (order[0] === n1!.id && order[1] === n3!.id) user = `user-${i}`
    }
    const d = await n1!.manager.request(user)
    assert.is(d.owner, n1!.id)
    await eventually(
      () => (n1!.manager.current(user)?.progress ?? 0) >= 10,
      'it runs on n1',
      10_000,
    )
    await n1!.close()
    await eventually(
      () => n2!.manager.current(user)?.owner === n2!.id,
      'n2 takes it over, not n3 whose disk is low',
      15_000,
    )
    await eventually(() => n2!.manager.current(user)?.state === 'ready', 'made on n2', 20_000)
    assert.is(n3!.manager.current(user)?.owner, n2!.id, 'as n3 sees it too')
  } finally {
    await c.teardown()
  }
})

test('the scribe is a member with room: a low one hands the log over, and takes it back once it has room', async () => {
  const free = [10_000 * MB, 10_000 * MB, 10_000 * MB]
  const c = await createCluster(3, { workMs: 300 }, (i) => ({ freeBytes: async () => free[i]! }))
  try {
    await c.oneLog()
    const nodes = c.nodes as RunningNode[]
    const byId = [...nodes].sort((a, b) => (a.id < b.id ? -1 : 1))
    const [first, second] = byId as [RunningNode, RunningNode]
    // Whom each node hands its writes to: null for the scribe itself.
    const scribes = () => nodes.map((n) => n.health().log.scribe ?? n.id)
    await eventually(
      () => scribes().every((s) => s === first.id),
      'the smallest id writes for all',
      10_000,
    )
    free[nodes.indexOf(first)] = 1 * MB
    await eventually(
      () => scribes().every((s) => s === second.id),
      `every node hands its writes to ${second.name}, ${first.name}'s disk being low`,
      10_000,
    )
    // Writes still land: a request made on the low node's peer is read back everywhere.
    const d = await second.manager.request('user-scribe')
    await eventually(
      () => nodes.every((n) => n.manager.current('user-scribe')?.id === d.id),
      'the request on every node',
      10_000,
    )
    free[nodes.indexOf(first)] = 10_000 * MB
    await eventually(
      () => scribes().every((s) => s === first.id),
      `${first.name} writes for all again`,
      10_000,
    )
  } finally {
    await c.teardown()
  }
})

test.run()
