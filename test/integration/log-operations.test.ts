/**
 * The log carries decisions, not ticks: a download that no failure touched costs the log its
 * request, its outcome and its dismissal, whatever its progress and checkpoints did, counted
 * from the log itself on every node. Operations written in one turn share a block.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import type { RunningNode } from '../../src/node.ts'

const USERS = 6

test('a download no failure touched is at most three operations in the log, on every node', async () => {
  // 1.5 s of work at a tick every 100 ms: fifteen progress reports and ten checkpoints each.
  const c = await createCluster(3, { workMs: 1500 })
  try {
    await c.oneLog()
    const nodes = c.nodes as RunningNode[]
    // Each node has heard that the others are writers of the log: they agree on the scribe.
    await eventually(() => {
      const named = nodes.map((n) => n.health().log.scribe)
      const scribe = named.find((id) => id !== null)
      return named.every((id, i) => id === (nodes[i]!.health().id === scribe ? null : scribe))
    }, 'the nodes agree on the scribe')
    const before = nodes.map((n) => n.health().log.length)
    const blocksBefore = nodes.map((n) => n.health().log.blocks)
    const clients = await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const node = nodes[i % 3]!
        return Client.connect(node.url, await sessionCookie(node.url))
      }),
    )
    for (const client of clients) client.send({ type: 'request' })
    await Promise.all(clients.map((client) => client.download((d) => d?.state === 'ready')))
    for (const client of clients) client.send({ type: 'dismiss' })
    await Promise.all(clients.map((client) => client.download((d) => d === null)))
    for (const client of clients) client.close()

    // Every node's log reads the same operations: the requests, outcomes and dismissals.
    await eventually(
      () => nodes.every((n, i) => n.health().log.length - before[i]! >= 3 * USERS),
      'every node reads each download’s request, outcome and dismissal',
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const [i, n] of nodes.entries()) {
      const { length, blocks } = n.health().log
      assert.is(length - before[i]!, 3 * USERS, `${n.name}: nothing more than those`)
      const [ops, written] = [length - before[i]!, blocks - blocksBefore[i]!]
      assert.ok(written <= ops, `${n.name}: ${written} blocks hold ${ops} operations`)
    }
    // One scribe wrote them all: the others handed it what they wrote (cluster/scribe.ts).
    const logs = nodes.map((n) => n.health().log)
    const scribe = logs.find((l) => l.scribe !== null)!.scribe
    const writer = nodes.find((n) => n.health().id === scribe)!
    for (const [i, l] of logs.entries()) {
      assert.is(l.scribe, nodes[i] === writer ? null : scribe, `${nodes[i]!.name} names the scribe`)
      assert.is(l.scribeName, nodes[i] === writer ? null : writer.name, 'by its name too')
      assert.is(l.isScribe, nodes[i] === writer, `${nodes[i]!.name} says whether it is the scribe`)
    }
    const handed = logs.reduce((sum, l) => sum + l.handed, 0)
    // At least the requests and dismissals of the users whose page is on the other two nodes.
    const theirs = nodes.filter((n) => n !== writer).length * (USERS / nodes.length)
    assert.ok(handed >= 2 * theirs, `the other two handed their writes over (${handed})`)
    const { writtenFor } = writer.health().log
    assert.ok(writtenFor >= handed, `and the scribe wrote them (${writtenFor} for ${handed})`)
  } finally {
    await c.teardown()
  }
})

test.run()
